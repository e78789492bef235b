"""IP-IQA (Image-Prompt IQA, arXiv 2403.18714): network modules in `methods.ipiqa.model`."""
