"""Official checkpoints -> a model folder, without torch: graph templates bound to the checkpoint's
weights, INT8 with onnxruntime's quantization tools, and the conversion pipeline itself.

The pipeline (`pipeline.py`) is the one both converters run: what differs is where the fp32 graphs
come from, our torch modules exported by `convert/` (the reference, needs torch) or the templates
that exporter made, with the weights bound in numpy (`templates.py`, `binding.py`). Everything after
the fp32 graphs (INT8, the T2S step graph, calibration, the manifest) is shared code without torch.
"""
