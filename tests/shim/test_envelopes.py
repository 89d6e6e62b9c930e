"""The shim's answers are envelopes whose Body validates against the WSDL's own schema
(document/literal services), whichever side answered: the rules engine, the model
during a canary, or a legacy server of the corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xmlschema
import zeep
from lxml import etree
from zeep.plugins import HistoryPlugin

from strangler.demo.inventory import WSDL_PATH
from tests.shim.conftest import CorpusShim, DemoShim

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"


def wsdl_schema(path: Path) -> xmlschema.XMLSchema:
    """The schema of the WSDL's ``types`` (one inline schema, its prefixes kept)."""
    root = etree.parse(str(path)).getroot()
    schemas = root.findall(f"{{{WSDL}}}types/{{{XS}}}schema")
    assert len(schemas) == 1
    return xmlschema.XMLSchema(etree.tostring(schemas[0]).decode())


def answered_body(history: HistoryPlugin) -> Any:
    envelope = history.last_received["envelope"]
    body = next(c for c in envelope if etree.QName(c).localname == "Body")
    return next(c for c in body if isinstance(c.tag, str))


def test_the_demo_answers_validate_whichever_side_answers(demo_shim: DemoShim) -> None:
    schema = wsdl_schema(Path(WSDL_PATH))
    put = demo_shim.admin.put(
        "/admin/routes/reorder-advice", json={"mode": "canary", "weight": 0.5}
    )
    assert put.status_code == 200, put.text
    try:
        for port in ("InventorySoap11", "InventorySoap12"):
            history = HistoryPlugin()
            service = zeep.Client(demo_shim.wsdl, plugins=[history]).bind("InventoryService", port)
            calls = [
                ("GetStock", {"sku": "SKU-1001"}),
                ("ListItems", {}),
                ("AdjustStock", {"sku": "SKU-2002", "delta": 0, "reason": "count"}),
                *(
                    (
                        "GetReorderAdvice",
                        {
                            "customerId": f"C-{n:03d}",
                            "sku": "SKU-1001",
                            "quantityOnHand": 3,
                            "averageDailySales": "4.5",
                            "leadTimeDays": 7,
                        },
                    )
                    for n in range(20)
                ),
            ]
            rule_ids = set()
            for operation, kwargs in calls:
                answer = getattr(service, operation)(**kwargs)
                schema.validate(answered_body(history))
                if operation == "GetReorderAdvice":
                    rule_ids.add(answer.ruleId.startswith("MODEL-"))
            assert rule_ids == {True, False}  # both sides answered, both validate
    finally:
        demo_shim.admin.put("/admin/routes/reorder-advice", json={"mode": "legacy"})


@pytest.mark.parametrize(
    ("name", "operation", "args"),
    [
        ("calculator", "add", {"arg0": 1, "arg1": 2}),
        ("bare", "bareNoParam", {}),
        ("round4", "echoChoice", {"inputChoice": {"name0": "x"}}),
        (
            "round4mapped",
            "echoNestedComplexType",
            {
                "inputComplexType": {
                    "varString": "o",
                    "varInt": 1,
                    "varFloat": 0.5,
                    "varComplexType": {"varInt": 2, "varString": "i", "varFloat": 2.5},
                }
            },
        ),
    ],
)
def test_corpus_answers_validate(
    corpus_shim: CorpusShim, name: str, operation: str, args: dict[str, Any]
) -> None:
    service = corpus_shim.services[name]
    history = HistoryPlugin()
    client = zeep.Client(service.wsdl, plugins=[history])
    getattr(client.service, operation)(**args)
    root = etree.parse(str(service.wsdl_file)).getroot()
    schemas = root.findall(f"{{{WSDL}}}types/{{{XS}}}schema")
    sources = [etree.tostring(s).decode() for s in schemas]
    schema = xmlschema.XMLSchema(sources) if len(sources) > 1 else xmlschema.XMLSchema(sources[0])
    schema.validate(answered_body(history))
