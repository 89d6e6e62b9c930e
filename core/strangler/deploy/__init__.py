"""Running strangler on a cluster: Kubernetes manifests rendered from the spec.

:func:`~strangler.deploy.k8s.render_k8s` splits the spec by role
(:mod:`.roles`) and writes a Kustomize tree (:mod:`.k8s`, :mod:`.workload`,
:mod:`.progressive`); ``strangler render k8s SPEC OUT`` is its command.
"""
