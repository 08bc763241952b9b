"""The accelerate training loop shared by every family (``zoo train``).

One step = for each phase of the plugin's Trainer (e.g. generator, then discriminator):
``grad_accum`` micro-batches, each ``trainer.step`` -> ``backward(total / grad_accum)``
(gradient sync only on the last), optional clipping, the phase optimizer's step and its
scheduler. Then EMA updates, logs, sample grids and checkpoints (``zoo_core.train.checkpoint``).
Batches are a pure function of (seed, micro-step, process) and every random state is
checkpointed, so a resumed run continues bit for bit as an uninterrupted one would have.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zoo_core.errors import ConfigError, ZooError, ZooWarning, describe_validation
from zoo_core.fileio import write_json_atomic
from zoo_core.hub import HF_PREFIX, LOCAL_PREFIX
from zoo_core.registry import get_model_spec, get_registry, merged_config, resolve
from zoo_core.specs import ModelSpec
from zoo_core.train.checkpoint import (
    STATE,
    CheckpointState,
    checkpoint_folders,
    load_part,
    load_rng,
    newest_valid_checkpoint,
    rng_file,
    save_part,
    save_rng,
    step_folder_name,
    verify_checkpoint,
    write_manifest,
)
from zoo_core.train.data import FaceFolder, load_crop
from zoo_core.train.runfolder import run_lock, truncate_log
from zoo_core.train.samplers import SAMPLERS, PairSampler

CHECKPOINTS = "checkpoints"
FINAL = "final"
SHARDED_LAUNCHES = ("DEEPSPEED", "FSDP", "MEGATRON_LM")  # accelerate launches that shard the networks


class TrainOptions(BaseModel):
    """Engine settings (the plugin's own hyperparameters live in its ``config_schema``)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    data: Path
    output: Path
    trainer_config: dict[str, Any] = Field(default_factory=dict)
    model_overrides: dict[str, Any] = Field(default_factory=dict)
    max_steps: int = Field(1000, ge=1)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    grad_clip: float | None = Field(None, gt=0)
    seed: int = 0
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(3, ge=1)
    log_every: int = Field(10, ge=1)
    sample_every: int = Field(500, ge=1)
    tracker: Literal["tensorboard", "wandb", "none"] = "tensorboard"
    resume: str | None = Field(None, description="'latest' or a checkpoint folder")
    num_workers: int = Field(2, ge=0)
    cpu: bool = False
    resolution: int | None = Field(None, ge=8, description="crop size fed to the model (default: the spec's)")


class TrainingState:
    """The step counter (checkpointed in ``zoo_state.json``)."""

    def __init__(self) -> None:
        self.step = 0


class EMA:
    """Exponential moving average of a network's parameters (buffers are copied)."""

    def __init__(self, module: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        for shadow, live in zip(self.shadow.parameters(), module.parameters(), strict=True):
            shadow.lerp_(live.detach(), 1.0 - self.decay)
        for shadow, live in zip(self.shadow.buffers(), module.buffers(), strict=True):
            shadow.copy_(live)


class StepBatches(torch.utils.data.Dataset):
    """Micro-batch ``i`` of one process: pairs from the sampler, crops loaded from disk."""

    def __init__(self, data: FaceFolder, sampler: PairSampler, size: int, process: int):
        self.data, self.sampler, self.size, self.process = data, sampler, size, process

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sources, targets, same = self.sampler.pairs(index, self.process)
        load = lambda indices: torch.from_numpy(np.stack([load_crop(self.data.paths[i], self.size) for i in indices]))  # noqa: E731
        ids = np.asarray(self.data.identities)
        batch = {
            "source": load(sources), "target": load(targets), "same": torch.from_numpy(same),
            "source_id": torch.from_numpy(ids[sources]), "target_id": torch.from_numpy(ids[targets]),
        }
        if self.sampler.positives:
            batch["source_positive"] = load(self.sampler.second_photos(sources, index, self.process))
        return batch


def _has_gpu() -> bool:
    mps = getattr(torch.backends, "mps", None)
    xpu = getattr(torch, "xpu", None)
    return torch.cuda.is_available() or bool(mps and mps.is_available()) or bool(xpu and xpu.is_available())


def find_trainer(spec: Any) -> Any:
    trainers = get_registry().trainers
    for key in (spec.name, spec.family):
        if key in trainers:
            return resolve(trainers[key].trainer, f"trainer of {spec.name!r}")
    raise ZooError(f"no trainer is registered for {spec.name!r} (family {spec.family!r}); its plugin may not support training")


def check_resolution(trainer_class: Any, spec: ModelSpec, model_config: Mapping[str, Any], size: int,
                     given: bool) -> None:
    """Refuse a crop size the model's architecture cannot train at: a Trainer whose networks fix
    it declares ``resolutions(spec, model_config)``, the sizes it accepts (none: any size)."""
    declared = getattr(trainer_class, "resolutions", None)
    if declared is None:
        return
    try:
        accepted = tuple(declared(spec, model_config))
    except ValidationError as error:
        raise ConfigError(f"invalid model config for {spec.name}: {describe_validation(error)}") from error
    if size not in accepted:
        got = f"--resolution {size}" if given else f"{size} (the variant's resolution; set --resolution)"
        sizes = " or ".join(str(s) for s in accepted)
        raise ConfigError(f"{spec.name} trains only at {sizes} px with this model config (its architecture "
                          f"fixes the crop size); got {got}")


def latest_checkpoint(run: Path) -> Path | None:
    """The checkpoint folder of the highest step in ``run`` (whether valid or not)."""
    found = checkpoint_folders(run / CHECKPOINTS)
    return found[-1] if found else None


def resume_checkpoint(options: TrainOptions, warn: bool) -> tuple[Path, CheckpointState] | None:
    """The verified checkpoint ``options.resume`` names: a folder, or with ``latest`` the newest
    valid one (with ``warn``, one warning when newer ones are corrupt or incomplete)."""
    if options.resume is None:
        earlier = sorted((options.output / CHECKPOINTS).glob("step-*"))
        if earlier:  # a fresh run would mix its checkpoints with (and rotate away) the earlier run's
            raise ZooError(f"{options.output}: holds an earlier run (checkpoints up to {earlier[-1].name}); "
                           "continue it with --resume, or train into another folder")
        return None
    if options.resume != "latest":
        path = Path(options.resume)
        return path, verify_checkpoint(path)
    path, state, skipped = newest_valid_checkpoint(options.output / CHECKPOINTS)
    if skipped and warn:
        more = f" ({len(skipped)} newer checkpoints skipped)" if len(skipped) > 1 else ""
        warnings.warn(f"{skipped[0]}; resuming from {path} instead{more}", ZooWarning, stacklevel=2)
    return path, state


class Engine:
    """Builds everything from the options and runs the loop; ``run()`` returns the final folder."""

    def __init__(self, options: TrainOptions):
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        self.options = options
        if options.model.startswith((HF_PREFIX, LOCAL_PREFIX)):  # the registry would suggest these prefixes
            raise ConfigError(f"--model {options.model}: zoo train builds a registered variant (zoo list), not a "
                              "saved folder; trainers that start from saved weights take the folder in their "
                              "config (docs/train.md)")
        self.spec = get_model_spec(options.model)
        trainer_class = find_trainer(self.spec)
        try:
            self.trainer_config = trainer_class.config_schema(**options.trainer_config)
        except ValidationError as error:
            raise ConfigError(f"invalid training config for {self.spec.name}: {describe_validation(error)}") from error
        model_config = merged_config(self.spec, options.model_overrides)
        self.resolution = options.resolution or self.spec.resolution
        check_resolution(trainer_class, self.spec, model_config, self.resolution, options.resolution is not None)
        log_with = None if options.tracker == "none" else options.tracker
        if log_with == "wandb":
            try:
                import wandb  # noqa: F401
            except ImportError as error:
                raise ZooError("--tracker wandb needs the wandb package: pip install wandb") from error
        # AcceleratorState is a process-wide singleton that refuses a second, different precision;
        # forget it (the distributed PartialState is kept) so runs can follow each other in-process.
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state()
        # On a machine without a GPU, cpu=True makes a multi-process launch gloo ranks
        # (DistributedType.MULTI_CPU) instead of independent single-process runs.
        self.accelerator = Accelerator(mixed_precision=options.mixed_precision, log_with=log_with,
                                       project_dir=str(options.output), cpu=options.cpu or not _has_gpu())
        launch = self.accelerator.distributed_type.value
        if launch in SHARDED_LAUNCHES:
            raise ConfigError(f"zoo train runs data-parallel only (its checkpoints hold whole networks), not {launch}; "
                              "launch with --multi_gpu instead")
        set_seed(options.seed, device_specific=True)
        self.trainer = trainer_class(self.spec, model_config, self.trainer_config)
        networks = dict(self.trainer.build_networks())
        optimizers = dict(self.trainer.build_optimizers(networks))
        missing = [phase for phase in self.trainer.phases if phase not in optimizers]
        if missing:
            raise ZooError(f"trainer of {self.spec.name} has no optimizer for phases {missing}")
        schedulers = dict(self.trainer.build_schedulers(optimizers))
        prepared = self.accelerator.prepare(*networks.values(), *optimizers.values(), *schedulers.values())
        prepared = list(prepared) if isinstance(prepared, (list, tuple)) else [prepared]
        self.networks = dict(zip(networks, prepared[: len(networks)], strict=True))
        self.optimizers = dict(zip(optimizers, prepared[len(networks) : len(networks) + len(optimizers)], strict=True))
        self.schedulers = dict(zip(schedulers, prepared[len(networks) + len(optimizers) :], strict=True))
        self.ema = {name: EMA(self.accelerator.unwrap_model(self.networks[name]), decay)
                    for name, decay in dict(self.trainer.ema).items()}
        self.state = TrainingState()
        self.data = FaceFolder.scan(options.data)
        sampler_class = SAMPLERS[self.trainer.sampler]
        self.sampler = sampler_class(self.data, options.batch_size, options.seed, micro_batches=options.grad_accum,
                                     **dict(self.trainer.sampler_options))

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    def _batches(self, start_step: int) -> Iterator[dict[str, torch.Tensor]]:
        n = self.options.grad_accum
        dataset = StepBatches(self.data, self.sampler, self.resolution, self.accelerator.process_index)
        indices = range(start_step * n, self.options.max_steps * n)
        # its own generator: the loader's worker seed must not be drawn from the global torch
        # RNG, which a resumed run has just restored for the training step
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, sampler=indices,
                                             num_workers=self.options.num_workers, persistent_workers=False,
                                             generator=torch.Generator().manual_seed(self.options.seed))
        for batch in loader:
            yield {k: v.to(self.accelerator.device) for k, v in batch.items()}

    def _phase(self, phase: str, micro_batches: list[dict[str, torch.Tensor]], step: int) -> dict[str, float]:
        optimizer = self.optimizers[phase]
        optimizer.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        for k, batch in enumerate(micro_batches):
            last = k == len(micro_batches) - 1
            with contextlib.ExitStack() as stack:
                if not last:
                    for network in self.networks.values():
                        stack.enter_context(self.accelerator.no_sync(network))
                with self.accelerator.autocast():
                    losses = self.trainer.step(phase, batch, self.networks, step)
                if "total" not in losses:
                    raise ZooError(f"trainer of {self.spec.name}: phase {phase!r} returned no 'total' loss")
                self.accelerator.backward(losses["total"] / len(micro_batches))
            for name, value in losses.items():
                totals[f"{phase}/{name}"] = totals.get(f"{phase}/{name}", 0.0) + float(value.detach()) / len(micro_batches)
        if self.options.grad_clip is not None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            self.accelerator.clip_grad_norm_(params, self.options.grad_clip)
        optimizer.step()
        if phase in self.schedulers:
            self.schedulers[phase].step()
        return totals

    def _parts(self) -> dict[str, Any]:
        """What a checkpoint holds besides the random states, by file name."""
        parts: dict[str, Any] = {f"network-{name}.safetensors": self.accelerator.unwrap_model(network)
                                 for name, network in self.networks.items()}
        parts.update({f"ema-{name}.safetensors": ema.shadow for name, ema in self.ema.items()})
        parts.update({f"optimizer-{phase}.pt": optimizer for phase, optimizer in self.optimizers.items()})
        parts.update({f"scheduler-{phase}.pt": scheduler for phase, scheduler in self.schedulers.items()})
        if self.accelerator.scaler is not None:
            parts["scaler.pt"] = self.accelerator.scaler
        return parts

    def save_checkpoint(self) -> Path:
        """Write the checkpoint of this step (``zoo_core.train.checkpoint``) into a temporary
        folder: the parts and the state by the main process, each process its random states;
        then the manifest, the rename, and the oldest beyond ``keep_checkpoints`` removed."""
        folder = self.options.output / CHECKPOINTS
        final = folder / step_folder_name(self.state.step)
        temp = folder / f".tmp-{final.name}"
        if self.main:
            shutil.rmtree(temp, ignore_errors=True)
            temp.mkdir(parents=True)
        self.accelerator.wait_for_everyone()
        save_rng(temp / rng_file(self.accelerator.process_index), self.accelerator.device)
        if self.main:
            parts = self._parts()
            for name, obj in parts.items():
                save_part(obj, temp / name)
            state = CheckpointState(step=self.state.step, model=self.spec.name,
                                    processes=self.accelerator.num_processes, parts=sorted(parts))
            write_json_atomic(temp / STATE, state.model_dump(mode="json"))
        self.accelerator.wait_for_everyone()
        if self.main:
            write_manifest(temp)
            shutil.rmtree(final, ignore_errors=True)
            temp.rename(final)
            for old in checkpoint_folders(folder)[: -self.options.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        return final

    def load_checkpoint(self, folder: Path, state: CheckpointState | None = None) -> None:
        """Continue from a checkpoint: every part, this process's random states and the step.
        ``state``: what :func:`verify_checkpoint` returned (verified here when not given)."""
        state = state or verify_checkpoint(folder)
        if state.model != self.spec.name:
            raise ConfigError(f"{folder}: a checkpoint of {state.model}, not of {self.spec.name}")
        parts = self._parts()
        if sorted(parts) != state.parts:
            raise ConfigError(f"{folder}: holds {', '.join(state.parts)} but this run has {', '.join(sorted(parts))}; "
                              "resume with the model, trainer and precision settings of the checkpoint")
        for name, obj in parts.items():
            load_part(obj, folder / name)
        rank = self.accelerator.process_index
        if rank < state.processes:
            load_rng(folder / rng_file(rank), self.accelerator.device)
        if state.processes != self.accelerator.num_processes and self.main:
            warnings.warn(f"{folder}: written by {state.processes} processes, resumed with "
                          f"{self.accelerator.num_processes}; the run continues, but not as the original would have",
                          ZooWarning, stacklevel=2)
        self.state.step = state.step

    def _unwrapped(self, use_ema: bool) -> dict[str, torch.nn.Module]:
        networks = {name: self.accelerator.unwrap_model(net) for name, net in self.networks.items()}
        if use_ema:
            networks.update({name: ema.shadow for name, ema in self.ema.items()})
        return networks

    def _save_samples(self, batch: dict[str, torch.Tensor]) -> None:
        from zoo_core.faces.io import write_image

        with torch.no_grad():
            grid = self.trainer.sample_grid(batch, self._unwrapped(use_ema=True))
        image = (grid.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
        write_image(self.options.output / "samples" / f"step-{self.state.step:08d}.png", image)

    def run(self) -> Path:
        """Train (resuming when asked) while holding the run folder's lock; return the final folder."""
        with contextlib.ExitStack() as stack:
            if self.main:
                stack.enter_context(run_lock(self.options.output))
            resume = resume_checkpoint(self.options, warn=self.main)
            if resume is not None:
                self.load_checkpoint(*resume)
            return self._train()

    def _train(self) -> Path:
        """The loop from ``self.state.step`` to ``max_steps``, then the export."""
        from tqdm.auto import tqdm

        options = self.options
        if self.main:
            truncate_log(options.output / "losses.jsonl", self.state.step)
            write_json_atomic(options.output / "train_config.json", {
                "options": options.model_dump(mode="json"), "trainer": self.trainer_config.model_dump(mode="json")})
        if options.tracker != "none":
            flat = {k: v if isinstance(v, (int, float, str, bool)) else str(v)
                    for k, v in {**options.model_dump(mode="json"), **self.trainer_config.model_dump(mode="json")}.items()}
            self.accelerator.init_trackers("logs", config=flat)
        bar = tqdm(total=options.max_steps, initial=self.state.step, disable=not self.main, unit="step",
                   desc=f"zoo train {self.spec.name}")
        micro: list[dict[str, torch.Tensor]] = []
        window: dict[str, list[float]] = {}  # losses since the last log line, averaged there
        for batch in self._batches(self.state.step):
            micro.append(batch)
            if len(micro) < options.grad_accum:
                continue
            for phase in self.trainer.phases:
                for name, value in self._phase(phase, micro, self.state.step).items():
                    window.setdefault(name, []).append(value)
            for name, ema in self.ema.items():
                ema.update(self.accelerator.unwrap_model(self.networks[name]))
            self.state.step += 1
            bar.update(1)
            if self.state.step % options.log_every == 0:
                logs = {name: float(np.mean(values)) for name, values in window.items()}
                window = {}
                bar.set_postfix({name: f"{value:.3g}" for name, value in logs.items() if name.endswith("/total")})
                if options.tracker != "none":
                    self.accelerator.log(logs, step=self.state.step)
                if self.main:
                    with open(options.output / "losses.jsonl", "a") as handle:
                        handle.write(json.dumps({"step": self.state.step, **logs}) + "\n")
            if self.main and self.state.step % options.sample_every == 0:
                self._save_samples(micro[0])
            if self.state.step % options.checkpoint_every == 0 or self.state.step == options.max_steps:
                self.save_checkpoint()
            micro = []
        bar.close()
        final = self.export()
        if options.tracker != "none":  # after the export: it ends the process group of a multi-process run
            self.accelerator.end_training()
        return final

    def export(self) -> Path:
        """Save the trained (EMA where used) model as a ``save_pretrained`` folder."""
        from zoo_core.hub import save_pretrained

        final = self.options.output / FINAL
        if self.main:
            model = self.trainer.export(self._unwrapped(use_ema=True))
            save_pretrained(model, final)
        self.accelerator.wait_for_everyone()
        return final


def train(options: TrainOptions) -> Path:
    """Train ``options.model`` on ``options.data`` into ``options.output``; return the final folder."""
    return Engine(options).run()
