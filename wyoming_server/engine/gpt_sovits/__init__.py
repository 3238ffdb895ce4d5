"""GPT-SoVITS on onnxruntime + numpy: model folders, T2S decoding, SoVITS decoding, prompts."""
