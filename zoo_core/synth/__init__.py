"""``zoo synth``: forgery-detection datasets built with the zoo's swap models.

``plan`` turns a folder of identities into a JSONL plan (identity-disjoint splits, one row per
output with a stable id), ``run`` renders a plan resumably and in shards (``runner``,
``render``, ``manifest``, ``shards``), ``export`` lays a finished dataset out for
DeepfakeBench, FaceForensics++ tools or a CSV reader.
"""
