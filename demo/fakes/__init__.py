"""Fake integration servers (Shopify, Square, Odoo, a generic REST JSON API) for the demo and tests.

Each speaks its vendor's request and response shapes and has a control API for faults,
drift and throttling; see common.py.
"""
