"""Rendering results: Tables 1-3, each row's protocol, the paper's numbers, figures, significance, the report."""
