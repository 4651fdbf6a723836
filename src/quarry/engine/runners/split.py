"""split: one PDF into items — a page each (``print_page``) or runs of consecutive pages of one
item class (``semantic_page``, each page classified by the provider). Each item is a real PDF of
its pages, stored as a file of its own, and runs the next function as its own function call."""

from __future__ import annotations

import io
from typing import Any

from quarry.documents.limits import MAX_PDF_PAGES
from quarry.documents.model import Document
from quarry.documents.pdfium import LOCK
from quarry.engine.runners import Emission, FunctionError, RunInput
from quarry.providers.llm import Choice, ProviderError, provider_for


def run(run_input: RunInput) -> list[Emission]:
    if len(run_input.files) != 1:
        got = f"{len(run_input.files)} files" if run_input.files else "JSON"
        raise FunctionError(f"a split takes one PDF document; it got {got}")
    file = run_input.files[0]
    if file.input_type != "pdf":
        raise FunctionError(f"a split takes a PDF document; this input is {file.input_type}")
    document = run_input.documents()[0]
    if run_input.config["splitType"] == "print_page":
        groups = [(None, [index]) for index in range(len(document.pages))]
    else:
        groups = _semantic_groups(run_input, document)
    return _emissions(run_input, file.data, groups, len(document.pages))


def _semantic_groups(run_input: RunInput, document: Document) -> list[tuple[str | None, list[int]]]:
    """Runs of consecutive pages of one class. A page that fits no class continues the item before
    it (continuation pages say little); leading pages that fit none join the first classified one."""
    classes = run_input.config["semanticPageSplitConfig"]["itemClasses"]
    choices = [Choice(c["name"], c.get("description")) for c in classes]
    try:
        provider = provider_for(run_input.config.get("provider"), run_input.settings)
        labels = [provider.classify(Document(document.input_type, pages=[page]), choices) for page in document.pages]
    except ProviderError as exc:
        raise FunctionError(str(exc)) from None
    first = next((label for label in labels if label is not None), None)
    if first is None:
        names = ", ".join(c.name for c in choices)
        raise FunctionError(f"no page of the document matches any item class ({names})")
    groups: list[tuple[str | None, list[int]]] = []
    current = first
    for index, label in enumerate(labels):
        if label is not None and label != current or not groups:
            current = label or current
            groups.append((current, [index]))
        else:
            groups[-1][1].append(index)
    return groups


def _emissions(
    run_input: RunInput, data: bytes, groups: list[tuple[str | None, list[int]]], page_count: int
) -> list[Emission]:
    import pypdfium2

    if run_input.store is None:
        raise FunctionError("this runner needs file storage")  # only the engine runs splits
    semantic = run_input.config["splitType"] == "semantic_page"
    reference = run_input.reference_id or "split"
    with LOCK:
        source = pypdfium2.PdfDocument(data)
        try:
            if len(source) > MAX_PDF_PAGES:
                raise FunctionError(f"the PDF has {len(source)} pages; at most {MAX_PDF_PAGES} are split")
            parts = [_pdf_of(source, pages) for _, pages in groups]
        finally:
            source.close()
    items = []
    for offset, ((item_class, pages), part) in enumerate(zip(groups, parts)):
        key = run_input.store(part, "pdf")
        item: dict[str, Any] = {"itemOffset": offset, "itemReferenceID": f"{reference}-{offset + 1}"}
        if semantic:
            same = [g for g in groups[:offset] if g[0] == item_class]
            item |= {
                "itemClass": item_class,
                "itemClassCount": sum(1 for g in groups if g[0] == item_class),
                "itemClassOffset": len(same),
                "pageStart": pages[0] + 1,
                "pageEnd": pages[-1] + 1,
            }
        items.append((item, key))
    output = "semanticPageOutput" if semantic else "printPageOutput"
    output_type = "semantic_page" if semantic else "print_page"
    listing: dict[str, Any] = {"itemCount": len(items), "items": [item | {"s3BlobKey": key} for item, key in items]}
    if semantic:
        listing["pageCount"] = page_count
    emissions = [Emission("split_collection", {"outputType": output_type, output: listing})]
    for item, key in items:
        detail = {k: v for k, v in item.items() if k != "itemReferenceID"}
        detail |= {"collectionReferenceID": reference, "itemCount": len(items), "s3BlobKey": key}
        if semantic:
            detail["pageCount"] = page_count
        file = {"inputType": "pdf", "blobKey": key, "itemReferenceID": item["itemReferenceID"]}
        emissions.append(
            Emission(
                "split_item", {"outputType": output_type, output: detail}, files=[file], branch=item.get("itemClass")
            )
        )
    return emissions


def _pdf_of(source: Any, pages: list[int]) -> bytes:
    import pypdfium2

    target = pypdfium2.PdfDocument.new()
    try:
        target.import_pages(source, pages)
        buffer = io.BytesIO()
        target.save(buffer)
        return buffer.getvalue()
    finally:
        target.close()
