"""The Gradio playground: ``layout`` wires components to the plain functions in
``handlers``; ``render``, ``share``, ``exports``, ``presets`` and ``picker`` hold the
logic and never import Gradio components."""
