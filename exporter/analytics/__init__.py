"""Inventory analytics: demand forecast, safety stock, reorder points, purchase recommendations."""
