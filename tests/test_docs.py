"""docs/protocol.md lists the same ops as the op table (cybermarket/ops.py),
with the same arguments, the same ones optional, the same roles and the
same error codes; and its table of error codes is errors.CODES.

The doc's "| op | args | data |" tables give each op's arguments as code
spans, `name`, the required ones first and the optional ones after the word
"optional" ("optional, at least one:" where one of them is needed);
anything in parentheses is explanation.  The "codes" column lists the
op's own error codes (ops.Op.errors) as code spans.  Each op's role comes from its
paragraph ("Role: anyone", "Role: client", "Role: merchant", "Role: client or
merchant") or, for the ops of the "Common (no login needed)" section, from
its heading.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cybermarket import ops as ops_module
from cybermarket import values
from cybermarket.errors import CODES
from cybermarket.ops import OPS, Op
from cybermarket.values import Arg

PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
TABLE_HEADER = "| op | args | data | codes |"
CODES_HEADER = "| status | code | extra keys | when |"
ROLES = {
    "anyone": None,
    "client": ops_module.CLIENT,
    "merchant": ops_module.MERCHANT,
    "client or merchant": ops_module.EITHER,
}
# Words the args column may hold besides the names: its punctuation aside,
# nothing else, so that a name written without backticks is caught.
FILLER = {"optional", "at", "least", "one"}


@dataclass
class DocOp:
    name: str
    required: list = field(default_factory=list)
    optional: list = field(default_factory=list)
    at_least_one: bool = False
    role: object = "unstated"
    codes: list = field(default_factory=list)


class DocError(ValueError):
    """docs/protocol.md's op tables are not in the form this test reads."""


def the_ops_section(text):
    start = text.index("\n## The ops\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def parse_args(cell, op_name):
    """(required, optional, at_least_one) from an args cell."""
    plain = re.sub(r"\([^()]*\)", " ", cell)  # explanations
    names_at = [(m.start(), m.group(1)) for m in re.finditer(r"`([A-Za-z_][A-Za-z0-9_]*)`", plain)]
    leftover = re.sub(r"`[^`]*`", " ", plain)
    words = set(re.findall(r"[A-Za-z0-9_]+", leftover))
    if not words <= FILLER:
        raise DocError(f"{op_name}: args column has {sorted(words - FILLER)} outside backticks")
    marker = re.search(r"\boptional\b", plain)
    split = marker.start() if marker else len(plain)
    required = [name for at, name in names_at if at < split]
    optional = [name for at, name in names_at if at > split]
    return required, optional, bool(re.search(r"\bat least one\b", plain))


def parse_doc(text):
    """{op name: DocOp} from the op tables of the protocol document."""
    section = the_ops_section(text)
    found = {}
    heading = None
    lines = section.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("### "):
            heading = line[4:].strip()
        if line.strip() != TABLE_HEADER:
            continue
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
            if len(cells) != 4:
                raise DocError(f"not four cells: {row}")
            name, args, _, codes = cells
            if re.sub(r"`[a-z_]+`|[, ]", "", codes):
                raise DocError(f"{name}: codes column holds more than code spans")
            if name in found:
                raise DocError(f"{name}: listed twice")
            required, optional, at_least_one = parse_args(args, name)
            op = DocOp(name, required, optional, at_least_one)
            op.codes = re.findall(r"`([a-z_]+)`", codes)
            if heading and heading.startswith("Common"):
                op.role = None
            found[name] = op
    for name, op in found.items():
        stated = re.search(
            rf"\*\*{name}\*\*[^\n]*?\bRole: (anyone|client or merchant|client|merchant)\b",
            section,
        )
        if stated:
            role = ROLES[stated.group(1)]
            if op.role not in ("unstated", role):
                raise DocError(f"{name}: its section and its paragraph give other roles")
            op.role = role
    return found


def differences(declared, documented):
    """What differs between the op table and the document, one line each."""
    found = []
    for name in sorted(set(declared) - set(documented)):
        found.append(f"{name}: in the op table, not in docs/protocol.md")
    for name in sorted(set(documented) - set(declared)):
        found.append(f"{name}: in docs/protocol.md, not in the op table")
    for name in sorted(set(declared) & set(documented)):
        op, doc = declared[name], documented[name]
        required = {a for a, spec in op.args.items() if not spec.optional}
        optional = {a for a, spec in op.args.items() if spec.optional}
        if set(doc.required) != required:
            found.append(
                f"{name}: required {sorted(required)}, the doc says {sorted(doc.required)}"
            )
        if set(doc.optional) != optional:
            found.append(
                f"{name}: optional {sorted(optional)}, the doc says {sorted(doc.optional)}"
            )
        if len(doc.required + doc.optional) != len(set(doc.required + doc.optional)):
            found.append(f"{name}: the doc names an argument twice")
        if doc.at_least_one != bool(op.one_of):
            found.append(f"{name}: at least one of {list(op.one_of)}; the doc says otherwise")
        own = [code.name for code in op.errors]
        if sorted(doc.codes) != sorted(own):
            found.append(f"{name}: codes {sorted(own)}, the doc says {sorted(doc.codes)}")
        if doc.role == "unstated":
            found.append(f"{name}: the doc states no role")
        elif doc.role != op.role:
            found.append(f"{name}: role {op.role or 'anyone'}, the doc says {doc.role or 'anyone'}")
    return found


@pytest.fixture(scope="module")
def documented():
    return parse_doc(PROTOCOL.read_text())


def test_the_doc_lists_the_ops_with_their_arguments_and_roles(documented):
    assert differences(OPS, documented) == []


def test_the_doc_lists_the_ops_in_the_op_tables_order(documented):
    assert list(documented) == list(OPS)


def parse_codes(text):
    """[(status, code, extra keys)] from the document's table of error codes."""
    lines = text.splitlines()
    at = lines.index(CODES_HEADER)
    found = []
    for row in lines[at + 2 :]:
        if not row.startswith("|"):
            break
        status, code, keys, _ = (cell.strip() for cell in row.strip().strip("|").split("|"))
        found.append((int(status), code.strip("`"), tuple(re.findall(r"`([a-z_]+)`", keys))))
    return found


def test_the_doc_lists_the_error_codes():
    documented = parse_codes(PROTOCOL.read_text())
    assert documented == [(code.status, name, code.keys) for name, code in CODES.items()]


def test_a_code_left_out_of_an_op_s_row_is_seen():
    text = PROTOCOL.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| CLIENT_CHECKOUT_ITEM |"))
    changed = parse_doc(text.replace(row, row.replace("`short_of_stock`, ", "")))
    assert differences(OPS, changed) == [
        "CLIENT_CHECKOUT_ITEM: codes ['empty_cart', 'short_of_stock', 'too_large',"
        " 'total_changed'], the doc says ['empty_cart', 'too_large', 'total_changed']"
    ]


# --- the check itself ---------------------------------------------------------


def test_an_op_added_to_the_table_is_missed_in_the_doc(documented):
    declared = dict(OPS, MERCHANT_CLOSE_STORE=Op("MERCHANT_CLOSE_STORE", ops_module.MERCHANT))
    assert differences(declared, documented) == [
        "MERCHANT_CLOSE_STORE: in the op table, not in docs/protocol.md"
    ]


def test_a_changed_argument_or_role_is_seen(documented):
    add = OPS["MERCHANT_ADD_PRODUCT"]
    renamed = {("name" if a == "productname" else a): spec for a, spec in add.args.items()}
    declared = dict(OPS)
    declared["MERCHANT_ADD_PRODUCT"] = Op(add.name, add.role, renamed)
    declared["PING"] = Op("PING", ops_module.CLIENT)
    declared["LIST_PRODUCT"] = Op(
        "LIST_PRODUCT",
        None,
        dict(OPS["LIST_PRODUCT"].args, limit=Arg(values.Limit)),
        errors=OPS["LIST_PRODUCT"].errors,
    )
    assert differences(declared, documented) == [
        "LIST_PRODUCT: required ['limit', 'storename'], the doc says ['storename']",
        "LIST_PRODUCT: optional ['after'], the doc says ['after', 'limit']",
        "MERCHANT_ADD_PRODUCT: required ['description', 'name', 'price'],"
        " the doc says ['description', 'price', 'productname']",
        "PING: role client, the doc says anyone",
    ]


def test_the_reader_refuses_a_name_without_backticks():
    text = PROTOCOL.read_text().replace(
        "| CLIENT_GET_ORDER | `order_id` |", "| CLIENT_GET_ORDER | order_id |"
    )
    with pytest.raises(DocError, match="CLIENT_GET_ORDER"):
        parse_doc(text)


def test_the_reader_sees_an_op_left_out_of_the_doc():
    text = PROTOCOL.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| CLIENT_GET_PRICE |"))
    documented = parse_doc(text.replace(row + "\n", ""))
    assert differences(OPS, documented) == [
        "CLIENT_GET_PRICE: in the op table, not in docs/protocol.md"
    ]
