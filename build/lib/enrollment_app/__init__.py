"""The enrollment app: the step-by-step drawing flow in Streamlit (entry point: app.py)."""
