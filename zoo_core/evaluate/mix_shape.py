"""R-Shape (MFIM Sec. 4.4, Table 5): relative face-shape distance of ID-mixed swaps,

    R-Shape(gb) = D(x_mix, x_gb) / (D(x_mix, x_gb) + D(x_mix, x_lc)),

with D the L2 distance of FLAME shape parameters regressed by the 3DMM estimator (DECA's
coarse encoder, registered ``deca-flame-encoder``; the paper uses RingNet, see
:mod:`zoo_core.evaluate.flame_metrics`). Rows as in Table 5: the ID mix, and plain swaps with
only the global or only the local source. R-Shape(lc) = 1 - R-Shape(gb).
"""

from __future__ import annotations

from zoo_core.evaluate.flame_metrics import FlameParameterDistance
from zoo_core.evaluate.metrics import (
    EvaluationContext,
    EvaluationRecord,
    MetricResult,
    MixRecord,
    describe_values,
)
from zoo_core.evaluate.metrics import relative_identity as relative_distance


class RelativeShape(FlameParameterDistance):
    """R-Shape(gb) of ID mixing, with the single-source swaps for reference."""

    needs = frozenset({"mix", "identity"})
    capability = "mix"

    def __init__(self, weights: str | None, device: str = "cpu"):
        super().__init__("r-shape", "shape", "source", weights, device,
                         protocol="MFIM Sec. 4.4, Table 5 (the paper regresses with RingNet)")
        self.rows: dict[str, list[float]] = {"mix": [], "global": [], "local": []}

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, MixRecord):
            return
        crops = (record.global_crop, record.local_crop, record.target_crop, record.mix_crop,
                 record.global_swap_crop, record.local_swap_crop)
        if any(c is None for c in crops):
            self.skip("the mix record carries no crops")
            return
        target_face, _ = self.original(record.target_crop)
        _, global_params = self.original(record.global_crop)
        _, local_params = self.original(record.local_crop)
        if target_face is None or global_params is None or local_params is None:
            self.skip("no face found on a target or source crop")
            return
        gb, lc = global_params["shape"], local_params["shape"]
        for row, crop in (("mix", record.mix_crop), ("global", record.global_swap_crop), ("local", record.local_swap_crop)):
            self.rows[row].append(relative_distance(self.generated(crop, target_face)["shape"], gb, lc))

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.rows["mix"]:
            why = "; ".join(f"{n} triplets: {reason}" for reason, n in self.skipped.items()) or "no triplets"
            return MetricResult.not_applicable(self.name, why)
        stats = {row: describe_values(v) for row, v in self.rows.items()}
        values = {row: {"r_shape_gb": s["mean"], "r_shape_lc": 1.0 - s["mean"], "std": s["std"], "n": s["n"]}
                  for row, s in stats.items()}
        notes = ["R-Shape(gb) = D(x_mix, x_gb) / (D(x_mix, x_gb) + D(x_mix, x_lc)), D = L2 distance of FLAME shape "
                 "parameters (DECA's coarse encoder; the paper uses RingNet). Below 0.5: the face shape follows the "
                 "global source (MFIM Table 5: local 0.609, mix 0.466, global 0.378)"]
        if self.on_target_box:
            notes.append(f"{self.on_target_box} generated crops had no detectable face and used the target's landmarks")
        if self.skipped:
            notes.append("skipped: " + "; ".join(f"{n} triplets ({reason})" for reason, n in self.skipped.items()))
        return MetricResult(
            self.name, values=values,
            summary={"R-Shape(gb) mix": f"{values['mix']['r_shape_gb']:.3f} (local {values['local']['r_shape_gb']:.3f}, "
                                        f"global {values['global']['r_shape_gb']:.3f})"},
            notes=notes, samples=self.rows,
        )


def build_relative_shape(weights: str | None = None, device: str = "cpu") -> RelativeShape:
    return RelativeShape(weights, device)
