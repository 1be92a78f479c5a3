"""Suppliers: one entity per payee across councils, its sector with evidence, and the registers.

Public entry point: ``classify_suppliers(df, registers_db=None)`` (see classify.py). Registers are
loaded with ``registers.load_register(kind, path, db)`` or ``councilspend registers load``.
"""

from normalise.suppliers.classify import classify_suppliers
from normalise.suppliers.decision import SECTORS

__all__ = ["SECTORS", "classify_suppliers"]
