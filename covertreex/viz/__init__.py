"""Plotly views of covertreex runs (reports written by the CLI, figures shown in notebooks)."""
