"""Reads for the shop owner's pages (dashboard, segments, customers, rules, runs); every function takes shop=.

The API reads through analytics.segments and the models; these selectors shape data for
templates and charts, with bounded queries (aggregates in SQL, samples, pages).
"""
