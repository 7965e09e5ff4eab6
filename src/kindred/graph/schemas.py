"""What the graph, search and identity resolution API answer, as Pydantic models for the
OpenAPI document.

The routers do not serialize through these: they answer the services' dicts with orjson
(``api.responses.Json``). These models only describe those bodies, declared per operation as
``responses={…: {"model": …}}`` — see ``records/schemas.py`` for the conventions and
``tests/api/test_response_schemas_data.py`` for the proof that real responses match. Records
are ``RecordPublic``: presented by the record service, so permissions and consent apply.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kindred.records.schemas import RecordMeta, RecordPublic

# -- graph --------------------------------------------------------------------------------------


class GraphEdge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relation: str = Field(description="The edge type: <object>.<field> of the source record")
    source: str = Field(description="The id of the record whose relation field points")
    target: str = Field(description="The id of the record it points at")


class Neighbour(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edge: GraphEdge
    node: RecordPublic


class Neighbours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: RecordPublic = Field(description="The record asked about")
    neighbours: list[Neighbour] = Field(description="The records one edge away you may see")


class SubgraphNode(RecordPublic):
    """A record of the subgraph, with how many edges it is from the root."""

    depth: int = Field(ge=0, description="0 for the root")


class Subgraph(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str = Field(description="The id of the record asked about")
    nodes: list[SubgraphNode] = Field(description="The root first, then breadth first")
    edges: list[GraphEdge] = Field(description="The edges between the nodes")
    truncated: bool = Field(description="max_nodes was reached: there are more")


class GraphPath(BaseModel):
    model_config = ConfigDict(extra="forbid")

    found: bool = Field(description="false: no path of visible records within max_depth")
    length: int = Field(
        default_factory=int, ge=0, description="Present when found: the number of edges"
    )
    nodes: list[RecordPublic] = Field(description="From the source to the target; [] if none")
    edges: list[GraphEdge] = Field(description="In path order; [] if none")


# -- search -------------------------------------------------------------------------------------

SearchMode = Literal["hybrid", "fulltext"]


class SearchSnippet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="The field the text is from")
    text: str = Field(description="A window of its value ('…' where cut)")
    highlights: list[Annotated[list[int], Field(min_length=2, max_length=2)]] = Field(
        description="[start, end) character offsets of the matches in text"
    )


class SearchHit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["records"]
    id: str = Field(description="The record's id")
    object: str
    title: str = Field(description="Its title field's value, else its id")
    score: float = Field(description="Relevance (reciprocal rank fusion): higher is better")
    snippet: SearchSnippet | None = Field(description="null: no shown field has text")
    matched_fields: list[str] = Field(description="The fields the words matched, best first")
    matched_by: list[Literal["fulltext", "semantic"]] = Field(min_length=1)


class SearchResults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="The query as understood")
    mode: SearchMode = Field(description="hybrid: meaning took part; fulltext: words only")
    sources: list[str] = Field(description="The sources searched")
    data: list[SearchHit] = Field(description="Best first")
    semantic_unavailable: str = Field(
        default_factory=str,
        description="Present when semantic search is configured but cannot run: why",
    )


class ReindexResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indexed: dict[str, int] = Field(description="Per object, how many records were indexed")
    mode: SearchMode


# -- identity resolution ------------------------------------------------------------------------

MatchDecision = Literal["auto_merge", "review", "no_match"]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_merge: float = Field(description="Scores at or above this are safe to merge")
    review: float = Field(description="Scores at or above this need review")


class MatchFeature(BaseModel):
    """One piece of evidence of a match score."""

    model_config = ConfigDict(extra="forbid")

    feature: str
    weight: float = Field(description="How much it can weigh")
    similarity: float | None = Field(description="0 to 1; null when it could not be compared")
    contribution: float = Field(description="What it added to the log-odds (negative: against)")
    explanation: str
    conflict: bool = Field(description="The values contradict each other")


class CandidateQuery(BaseModel):
    """What was matched: a record (``record``) or values not yet saved (``values``)."""

    model_config = ConfigDict(extra="forbid")

    object: str = Field(description="The object of the record or values")
    record: str = Field(default_factory=str, description="Present when a record was matched")
    values: dict[str, Any] = Field(
        default_factory=dict, description="Present when values were matched: as checked"
    )


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: RecordPublic
    score: float = Field(ge=0, le=1, description="The probability they are the same entity")
    decision: MatchDecision
    summary: str = Field(description="The decision and its strongest reasons, in words")
    features: list[MatchFeature]


class Candidates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str
    query: CandidateQuery
    thresholds: Thresholds
    data: list[Candidate] = Field(description="Best first")
    next_cursor: None = Field(description="Always null: every candidate is on this page")


class DuplicatePair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[RecordPublic] = Field(min_length=2, max_length=2)
    score: float = Field(ge=0, le=1)
    decision: MatchDecision
    summary: str
    features: list[MatchFeature]


class Duplicates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str
    thresholds: Thresholds
    data: list[DuplicatePair] = Field(description="Best first")
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null: last")
    truncated: bool = Field(description="There were too many candidate pairs: some were skipped")


class MergeSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The merge's id (undo it with POST …/merges/{id}/undo)")
    object: str
    state: Literal["merged", "undone"]
    survivor: str = Field(description="The id of the record that stayed")
    duplicate: str = Field(description="The id of the record merged into it")
    score: float | None = Field(description="The match score when merged")
    merged_at: dt.datetime
    merged_by: str | None
    undone_at: dt.datetime | None = Field(description="null unless undone")
    undone_by: str | None


class MergeList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[MergeSummary] = Field(description="Newest first")


class MergeEdge(BaseModel):
    """A relation field that pointed at the duplicate and was re-pointed at the survivor."""

    model_config = ConfigDict(extra="forbid")

    object: str
    record: str
    field: str


class MergedRecord(BaseModel):
    """The duplicate as it was merged: its id, object and the field values you may read
    (values withheld for lack of consent are left out, ``meta.withheld`` says which)."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str
    meta: RecordMeta = Field(
        default_factory=RecordMeta, description="Present when it says something"
    )


class SurvivorChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    before: Any = Field(description="The survivor's value before the merge")
    after: Any = Field(description="And after")


class SurvivorChangeWithheld(BaseModel):
    """A changed field whose values you may not see (the customer has not consented)."""

    model_config = ConfigDict(extra="forbid")

    field: str
    withheld: Literal[True]


class MergeView(MergeSummary):
    """A merge: what it changed, and (while merged) the duplicate as it was."""

    features: list[MatchFeature] = Field(description="The match as scored when merging")
    edges: list[MergeEdge] = Field(description="Relation fields re-pointed at the survivor")
    duplicate_record: MergedRecord | None = Field(description="null once undone")
    survivor_changes: list[SurvivorChange | SurvivorChangeWithheld] = Field(
        description="The survivor's fields the merge changed; [] once undone"
    )


class MergeResult(MergeView):
    skipped_fields: list[str] = Field(
        description="Fields that were to take the duplicate's value but you may not write"
    )
    survivor_record: RecordPublic = Field(description="The survivor, merged")


class UnmergeResult(MergeView):
    edges_gone: list[MergeEdge] = Field(
        description="Re-pointed fields of records deleted since: not restored"
    )
    restored_record: RecordPublic = Field(description="The duplicate, back")
