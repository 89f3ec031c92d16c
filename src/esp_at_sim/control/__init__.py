"""The control plane: JSON over HTTP, a WebSocket event stream and the web dashboard."""
