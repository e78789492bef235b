"""Scorer adapters. Every public module here is imported by the registry, so adding a
built-in method is adding a module with ``@register_method`` classes. Modules must import
heavy libraries (torch, pyiqa, open_clip) inside functions, so ``ipiqa-bench list`` is fast."""
