"""The CI pipeline toolkit: stages, clusters, faults, load, reports and gates.

Generic on purpose: nothing in here knows about auctions or about `mabeam`.
"""
