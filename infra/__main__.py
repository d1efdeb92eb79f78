"""The Pulumi program (``pulumi up`` runs this file): every resource of the selected stack."""

from avs_infra.program import build

build()
