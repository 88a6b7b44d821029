"""SLM Playground web app (Gradio). The UI is being built (see the issues); until then
this prints how to use the CLI."""

if __name__ == "__main__":
    print("The web UI is not built yet. Meanwhile use the CLI:\n"
          "  python -m playground providers\n"
          "  python -m playground compare --prompt 'Hello' --target ollama:phi3.5")
