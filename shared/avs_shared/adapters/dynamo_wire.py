"""Items already in DynamoDB's wire format skip botocore's per-value serialisation.

botocore serialises a ``PutRequest.Item`` by walking the service model for every
nested attribute value (``{"M": {...}}``, ``{"L": [...]}``) and copying it into a new
dict: ~0.9 ms of event-loop CPU per stored entry (about 470 values each), eight times
what ``json.dumps`` of the same item costs, and the largest single cost of a bulk
load's event loop. The codec (:func:`avs_shared.adapters.dynamo_codec.to_item`) already
produces exactly the wire JSON (``S``/``N``/``BOOL``/``NULL``/``M``/``L`` only; never
binary, which would need base64), so copying it value by value changes nothing.

:class:`WireItem` marks such an item; :func:`install` gives a DynamoDB client a
serialiser that puts a ``WireItem`` into the request as it is and serialises
everything else the usual way. A ``WireItem`` holding something ``json`` cannot
encode fails loudly when the request body is built, never silently.
"""

from __future__ import annotations

from typing import Any

from botocore.serialize import JSONSerializer
from botocore.validate import ParamValidationDecorator


class WireItem(dict[str, Any]):
    """A DynamoDB item (attribute name -> wire attribute value) made by the codec."""


class _WireItemSerializer(JSONSerializer):  # type: ignore[misc]  # botocore is untyped
    def _serialize_type_map(self, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        if type(value) is WireItem:
            serialized[key] = value
            return
        super()._serialize_type_map(serialized, value, shape, key)


def install(client: Any) -> bool:
    """Give ``client`` (a DynamoDB client) the pass-through serialiser; True if installed.

    Only a plain :class:`JSONSerializer` (optionally behind botocore's parameter
    validation) is replaced; anything else is left alone and False returned.
    """
    current = client._serializer
    target = current._serializer if isinstance(current, ParamValidationDecorator) else current
    if type(target) is not JSONSerializer:
        return type(target) is _WireItemSerializer
    replacement = _WireItemSerializer()
    replacement.__dict__.update(target.__dict__)  # e.g. the timestamp format
    if isinstance(current, ParamValidationDecorator):
        current._serializer = replacement
    else:
        client._serializer = replacement
    return True
