"""Reconciliation cases between partner countries (issue #10): policy, automatic opening, lifecycle, diagnosis."""
