"""HTML and XML. XML goes through defusedxml: no entity expansion bombs, no external entities."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeXML

from quarry.documents import einvoice
from quarry.documents.limits import MAX_FIELDS, MAX_NESTING_DEPTH
from quarry.documents.model import Document, DocumentError, Table, text_document
from quarry.documents.readers.plain import TableBudget, decode, grow_label
from quarry.documents.readers.tabular import table_lines


@dataclass
class _OpenTable:
    rows: list[list[str]] = field(default_factory=list)
    cell: list[str] | None = None  # the text of the cell being read
    caption: list[str] | None = None  # the text of the caption being read
    captions: list[str] = field(default_factory=list)


class _HTMLReader:
    """Visible text with block structure kept as lines, and every ``<table>`` as a table.

    The markup is parsed by Lexbor (selectolax), an HTML5 parser: linear in the input, and it
    repairs markup as browsers do — omitted ``</td>``/``</tr>`` end their cell or row where the next
    one starts, a missing ``</table>`` ends the table where the document ends (what follows
    is moved before it, as a browser shows it), stray text in a table is moved out of it. The stdlib
    ``HTMLParser`` is quadratic on some inputs (gh-135462) and does none of this."""

    _BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer",
              "ul", "ol", "address", "title", "dt", "dd", "blockquote", "pre", "hr"}  # fmt: skip
    _HIDDEN = {"script", "style", "head", "template", "noscript"}

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tables: list[Table] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None  # the text of the heading being read, outside tables
        self._open_tables: list[_OpenTable] = []  # tables being read, innermost last (tables nest)

    def read(self, root) -> None:
        """Every node in document order, without recursion (nesting depth is the document's to choose)."""
        stack = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                self._end(node.tag)
            elif node.is_text_node:
                self._data(node.text_content or "")
            elif node.is_element_node and node.tag not in self._HIDDEN:
                self._start(node.tag)
                stack.append((node, True))
                children = []
                child = node.child
                while child is not None:
                    children.append(child)
                    child = child.next
                stack.extend((child, False) for child in reversed(children))

    def _start(self, tag: str) -> None:
        table = self._open_tables[-1] if self._open_tables else None
        if tag == "table":
            if table is not None:
                self._break()  # a table inside a cell parts the cell's text before and after it
            self._open_tables.append(_OpenTable())
        elif table is not None and tag == "tr":
            table.rows.append([])
        elif table is not None and tag in ("td", "th"):
            if not table.rows:
                table.rows.append([])
            table.cell = []
        elif table is not None and tag == "caption":
            table.caption = []
        elif tag in self._BLOCK:
            self._break()
            if tag in _HEADINGS and table is None:
                self._heading = []

    def _end(self, tag: str) -> None:
        table = self._open_tables[-1] if self._open_tables else None
        if table is not None and tag in ("td", "th") and table.cell is not None:
            table.rows[-1].append(" ".join("".join(table.cell).split()))
            table.cell = None
        elif table is not None and tag == "caption" and table.caption is not None:
            table.captions.append(" ".join("".join(table.caption).split()))
            table.caption = None
        elif tag == "table" and table is not None:
            self._open_tables.pop()
            rows = [row for row in table.rows if any(row)]
            lines = [caption for caption in table.captions if caption]
            if rows:
                self.tables.append(Table(rows, name=f"table {len(self.tables) + 1}"))
                lines += table_lines(rows)
            if lines:
                self.parts.append("\n" + "\n".join(lines) + "\n")
        elif tag in self._BLOCK:
            self._break()
            if tag in _HEADINGS and table is None and self._heading is not None:
                if text := " ".join("".join(self._heading).split()):
                    self.headings.append(text)
                self._heading = None

    def _break(self) -> None:
        """A block's edge: a new line, or a space inside a cell or caption (``<td>a<br>b</td>`` is "a b")."""
        table = self._open_tables[-1] if self._open_tables else None
        if table is None:
            self.parts.append("\n")
        elif table.cell is not None:
            table.cell.append(" ")
        elif table.caption is not None:
            table.caption.append(" ")

    def _data(self, data: str) -> None:
        table = self._open_tables[-1] if self._open_tables else None
        if table is None:
            self.parts.append(data)
            if self._heading is not None:
                self._heading.append(data)
        elif table.cell is not None:
            table.cell.append(data)
        elif table.caption is not None:
            table.caption.append(data)


def read_html(data: bytes) -> Document:
    from selectolax.lexbor import LexborHTMLParser

    reader = _HTMLReader()
    reader.read(LexborHTMLParser(capped_nesting(decode(data))).root)
    lines = (
        " ".join(line.split()) if "    " not in line else line.strip() for line in "".join(reader.parts).splitlines()
    )
    text = "\n".join(line for line in lines if line)
    return text_document("html", text, tables=reader.tables, headings=reader.headings)


def html_text(markup: str) -> str:
    return read_html(markup.encode()).text


# --- nesting -------------------------------------------------------------------------------------
# An HTML5 tree builder walks its stack of open elements for many tags (is a <p> open? which <li>
# to close?), so markup nested n deep costs n² — 200 kB of <div>s take a minute, in Lexbor as in
# html5ever or gumbo. Browsers stop nesting at 512: a deeper start tag becomes a sibling. Here a
# linear pass follows the nesting the way the tree builder will (closing what end tags and
# implied ends close, never more) and drops the start tags that would go deeper than
# MAX_HTML_DEPTH; their text stays, attached to the deepest element allowed.

MAX_HTML_DEPTH = 512

_VOID = frozenset(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param source track wbr".split()
)
_RAW = frozenset("script style xmp iframe noembed noframes textarea title".split())  # their text is not markup
_SPECIAL = frozenset(
    "address applet area article aside base basefont bgsound blockquote body br button caption center col colgroup "
    "dd details dialog dir div dl dt embed fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 "
    "head header hgroup hr html iframe img input keygen li link listing main marquee menu meta nav noembed noframes "
    "noscript object ol p param plaintext pre script search section select source style summary table tbody td "
    "template textarea tfoot th thead title tr track ul wbr xmp math svg foreignobject desc mi mo mn ms mtext "
    "annotation-xml".split()
)
_SCOPE = frozenset(
    "applet caption html table td th marquee object template foreignobject desc title mi mo mn ms mtext "
    "annotation-xml".split()
)
_TABLE_PARTS = frozenset({"table", "tbody", "thead", "tfoot", "tr", "td", "th", "caption", "colgroup"})
_CLOSES_P = frozenset(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer form h1 h2 h3 "
    "h4 h5 h6 header hgroup hr listing main menu nav ol p pre search section summary ul li dd dt plaintext xmp".split()
)
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
_TAG = re.compile(
    r"<(/?)([A-Za-z][^\t\n\f\r />]*)"  # the tag name
    r"(?:[\t\n\f\r /]+|[^\t\n\f\r />=][^\t\n\f\r />=]*(?:[\t\n\f\r ]*=[\t\n\f\r ]*"
    r"(?:\"[^\"]*\"|'[^']*'|[^\t\n\f\r >]*))?|=[^\t\n\f\r />=]*)*"  # attributes, quoted values whole
    r"(>)?"
)


_STOPS = {  # what an end tag or an implied end does not close past
    "scope": _SCOPE,
    "button": _SCOPE | {"button"},
    "list": _SCOPE | {"ol", "ul"},
    "table": frozenset({"html", "table", "template"}),
    "row": frozenset({"tr", "table", "template", "html"}),
    "special": _SPECIAL,
    "item": _SPECIAL - {"address", "div", "p"},
}


class _Nesting:
    """The stack of open elements, as names, with where each name (and each kind of stop) sits in
    it: every step is O(1) amortised, whatever the depth."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.at: dict[str, list[int]] = defaultdict(list)
        self.stops: dict[str, list[int]] = {key: [] for key in _STOPS}

    def push(self, name: str) -> None:
        self.at[name].append(len(self.stack))
        for key, members in _STOPS.items():
            if name in members:
                self.stops[key].append(len(self.stack))
        self.stack.append(name)

    def close(self, names: frozenset[str] | set[str], stop: str) -> None:
        """Pop down to and including the nearest of ``names``, unless an element of kind ``stop``
        (other than that one) is open above it."""
        target = max((self.at[name][-1] for name in names if self.at.get(name)), default=-1)
        stops = self.stops[stop]
        if target < 0 or stops and stops[-1] > target:
            return
        for name in reversed(self.stack[target:]):
            self.at[name].pop()
        for indexes in self.stops.values():
            while indexes and indexes[-1] >= target:
                indexes.pop()
        del self.stack[target:]

    def foreign(self) -> bool:
        return bool(self.at.get("svg") or self.at.get("math"))

    def end_tag(self, name: str) -> None:
        """What an end tag closes: its element when in scope (``</td>`` closes the ``<font>`` left open
        in it), through ordinary elements only for a tag without rules of its own (``</span>``)."""
        if name in ("html", "head", "body", "br"):
            return
        if name in _TABLE_PARTS:
            self.close({name}, "table")
        elif name == "li":
            self.close({"li"}, "list")
        elif name == "p":
            self.close({"p"}, "button")
        elif name in _HEADINGS:
            self.close(_HEADINGS, "scope")
        else:
            self.close({name}, "scope" if name in _SPECIAL else "special")

    def implied_ends(self, name: str) -> None:
        """What a start tag closes first: an open ``<p>`` before a block, the previous item, cell or row."""
        top = self.stack[-1] if self.stack else ""
        if name in _CLOSES_P:
            self.close({"p"}, "button")
        if name == "li":
            self.close({"li"}, "item")
        elif name in ("dd", "dt"):
            self.close({"dd", "dt"}, "item")
        elif name in _HEADINGS and top in _HEADINGS:
            self.close({top}, "scope")
        elif name in ("td", "th"):
            self.close({"td", "th"}, "row")
        elif name == "tr":
            self.close({"tr"}, "table")
        elif name in ("tbody", "thead", "tfoot"):
            self.close({"tbody", "thead", "tfoot"}, "table")
        elif name == "table" and top in _TABLE_PARTS - {"td", "th", "caption"}:
            self.close({"table"}, "table")
        elif name in ("option", "optgroup") and top == "option":
            self.close({"option"}, "scope")


def capped_nesting(text: str) -> str:
    nesting = _Nesting()
    dropped: list[tuple[int, int]] = []
    position = 0
    while True:
        start = text.find("<", position)
        if start < 0 or start + 1 >= len(text):
            break
        following = text[start + 1]
        if following in "!?" or following == "/" and not text[start + 2 : start + 3].isalpha():
            if text.startswith("<!--", start):
                end = text.find("-->", start + 4)
                position = len(text) if end < 0 else end + 3
            else:  # a doctype, CDATA, a bogus comment: to the next ">"
                cdata = text.startswith("<![CDATA[", start) and nesting.foreign()
                end = text.find("]]>" if cdata else ">", start + 2)
                position = len(text) if end < 0 else end + 1
            continue
        tag = _TAG.match(text, start)
        if tag is None:  # "<" then no letter: text
            position = start + 1
            continue
        position = tag.end()
        if tag.group(3) is None:  # the file ends inside the tag: the tree builder drops it
            break
        name = tag.group(2).lower()
        if tag.group(1):
            nesting.end_tag(name)
            continue
        if name in ("html", "head", "body") or name in _VOID or tag.group(0).endswith("/>") and nesting.foreign():
            continue
        nesting.implied_ends(name)
        if len(nesting.stack) >= MAX_HTML_DEPTH:
            dropped.append((start, position))
            continue
        nesting.push(name)
        if name == "plaintext":
            break
        if name in _RAW:
            end = re.compile(rf"</{name}[\t\n\f\r />]", re.I).search(text, position)
            position = len(text) if end is None else end.start()
    if not dropped:
        return text
    parts, last = [], 0
    for begin, end in dropped:
        parts.append(text[last:begin])
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def read_xml(data: bytes) -> Document:
    """Each element's text under its path (``Invoice AccountingSupplierParty Party PartyName Name: Acme``),
    attributes likewise, and repeated elements with children (invoice lines) as tables."""
    try:
        root = SafeXML.fromstring(data)
    except Exception as exc:  # defusedxml raises several kinds, all meaning "not acceptable XML"
        raise DocumentError(f"the XML cannot be parsed: {exc}") from None
    fields: list[tuple[str, str]] = []
    tables: list[Table] = []
    budget = TableBudget("XML")
    # Depth first, in document order, without recursion: an element's fields, then the tables of its
    # repeated children, then its children.
    stack = [(root, "", 1)]
    while stack:
        element, path, depth = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            raise DocumentError(f"the XML is nested deeper than {MAX_NESTING_DEPTH} levels")
        label = grow_label(path, _local(element.tag))
        text = (element.text or "").strip()
        if text:
            fields.append((label, text))
        for name, value in element.attrib.items():
            fields.append((grow_label(label, _local(name)), value))
        if len(fields) > MAX_FIELDS:
            raise DocumentError(f"the XML has more than {MAX_FIELDS:,} values")
        children = list(element)
        by_tag: dict[str, list] = {}
        for child in children:
            by_tag.setdefault(_local(child.tag), []).append(child)
        for tag, group in by_tag.items():
            if len(group) > 1 and any(len(child) for child in group):
                tables.append(_xml_table(tag, group, budget))
        stack.extend((child, label, depth + 1) for child in reversed(children))
    text = "\n".join(f"{label}: {value}" for label, value in fields)
    return text_document("xml", text, fields=fields, tables=tables, einvoice=einvoice.from_element(root))


def _xml_table(tag: str, elements: list, budget: TableBudget) -> Table:
    """Repeated elements as rows; their leaf descendants, by relative path, as columns."""
    rows: list[dict[str, str]] = []
    for element in elements:
        row: dict[str, str] = {}
        visited = 0
        for leaf in element.iter():
            visited += 1
            text = (leaf.text or "").strip()
            if len(leaf) == 0 and text:
                row.setdefault(_local(leaf.tag), text)
        budget.count(visited)  # nested repeated elements are walked once per table they are in
        rows.append(row)
    header = list(dict.fromkeys(key for row in rows for key in row))
    budget.table(len(header), len(rows), tag)
    return Table([header, *[[row.get(key, "") for key in header] for row in rows]], name=tag)
