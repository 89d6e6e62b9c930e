"""The mapping layer: legacy shapes ⇄ modern ones, declared once in the spec.

Every part reads and writes legacy records through it (the REST faces, event
payloads, ETL feature views, the gateway's legacy side, the SOAP shim in
reverse), so a field is renamed and converted the same way everywhere:

- :class:`FieldMap` (the spec's entry for one field) and :class:`ObjectMap`;
- :func:`build_codec` → :class:`Codec`: one field both ways, documented, and
  pushed down to a database as a :mod:`strangler.mapping.pushdown` expression;
- :func:`build_shape` → :class:`Shape`: a record's fields, renamed and converted,
  with the spec's policy for stored values that break their encoding;
- :func:`apply_naming`: naming conventions (camelCase...).
"""

from strangler.mapping.broken import BROKEN_VALUES, decode_value
from strangler.mapping.codecs import BrokenValue, Codec, ModernKind, StoredKind, build_codec
from strangler.mapping.naming import Naming, apply_naming
from strangler.mapping.shape import FieldShape, Shape, build_shape
from strangler.mapping.spec import BrokenPolicy, EnumTable, FieldMap, FieldMaps, ObjectMap

__all__ = [
    "BROKEN_VALUES",
    "BrokenPolicy",
    "BrokenValue",
    "Codec",
    "EnumTable",
    "FieldMap",
    "FieldMaps",
    "FieldShape",
    "ModernKind",
    "Naming",
    "ObjectMap",
    "Shape",
    "StoredKind",
    "apply_naming",
    "build_codec",
    "build_shape",
    "decode_value",
]
