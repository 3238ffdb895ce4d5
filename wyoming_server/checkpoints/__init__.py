"""Official GPT-SoVITS checkpoint files without torch: a safe reader of torch's file formats, what each
file holds (versions, configs, weight-norm pairs) and the architecture sizes read from its tensors.

Both converters use it: the torch exporter (`convert/`) for versions and sizes, the template converter
(`importer/`) also for reading the tensors themselves.
"""
