"""How the handcrafted extractors compile their loops (numba).

``error_model="numpy"``: a float division by zero gives inf/NaN, as numpy's arrays do, with
no per-element check (the check alone keeps loops from vectorising: 6x slower). No
``fastmath`` and no ``parallel``: float operations stay in the order written, which is what
keeps the values equal to the array code they replace, and one process uses one core.
``cache=True`` keeps the compiled code beside the module, so a worker compiles once.
"""
import numba

compiled = numba.njit(cache=True, nogil=True, error_model="numpy")
