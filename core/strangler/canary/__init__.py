"""The canary controller: moves a route's mode and weight along its rollout's steps.

See :mod:`strangler.canary.model` for the measurements and the two seams
(where measurements come from, which data plane carries the split).
"""
