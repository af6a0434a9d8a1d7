"""The Gradio chat page (built on the public `qa` API)."""
