"""The workflow: solving and evaluating a plan in memory (align, decompose, design, finance steps).

It drives the solver backends on domain models, within one time budget, and returns results.
"""
