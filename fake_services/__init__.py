"""Loopback fakes of the services the providers talk to (NIM, Azure, Ollama, any
OpenAI-compatible server), with their real wire formats. Shared by the tests and the
benchmarks, so it lives outside ``tests/``."""
