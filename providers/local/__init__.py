"""In-process runtimes: ONNX Runtime GenAI (in worker processes) and Transformers."""
