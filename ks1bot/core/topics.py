"""The fixed topic vocabulary of SPEC §3 and what each topic means for routing."""
from __future__ import annotations

from typing import FrozenSet, Tuple

#: Every topic a message can get, in SPEC §3 order.
TOPICS: Tuple[str, ...] = (
    "operating_question",
    "bug_report",
    "process_question",
    "update_question",
    "golive_preparation",
    "contract_question",
    "request_human",
    "greeting",
    "thanks",
    "os",
    "network",
    "database_server",
    "hardware",
    "virtualization",
    "terminal_server",
    "third_party_software",
    "print_report_change",
    "import_definition",
    "feature_request",
    "training",
    "out_of_domain",
)

#: Topics that always go to a person (SPEC §4 rule 2).
HANDOFF_TOPICS: FrozenSet[str] = frozenset({"request_human", "bug_report", "process_question"})

#: Topics the support terms exclude (SPEC §4 rule 3).
EXCLUDED_TOPICS: FrozenSet[str] = frozenset(
    {
        "os",
        "network",
        "database_server",
        "hardware",
        "virtualization",
        "terminal_server",
        "third_party_software",
        "print_report_change",
        "import_definition",
        "feature_request",
        "training",
        "out_of_domain",
    }
)

#: Excluded topics that are infrastructure: the reply points to the customer's own
#: system administrator or IT service provider.
INFRASTRUCTURE_TOPICS: FrozenSet[str] = frozenset(
    {"os", "network", "database_server", "hardware", "virtualization", "terminal_server",
     "third_party_software"}
)

#: Excluded topics OSS! offers as a paid service: the reply offers a quote.
BILLABLE_TOPICS: FrozenSet[str] = frozenset(
    {"print_report_change", "import_definition", "feature_request", "training"}
)

#: Topics answered from the knowledge base when it has a confident answer.
KNOWLEDGE_TOPICS: FrozenSet[str] = frozenset(
    {"operating_question", "update_question", "golive_preparation", "contract_question"}
)

#: Topics only customers with a support contract are entitled to (SPEC §4 rule 4).
SUPPORT_CONTRACT_TOPICS: FrozenSet[str] = frozenset({"operating_question", "process_question"})

