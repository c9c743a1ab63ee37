"""Turning pixels and words into vectors: the CLIP encoder, its ONNX engine, tokenizer, weights, presets."""
