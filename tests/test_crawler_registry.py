"""Council registry (crawler/councils.yml), the mySociety register import, name resolution, CLI."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.registry import (
    COUNCIL_TYPES,
    RegistryError,
    import_register,
    load_registry,
    resolve,
)

MYSOCIETY = "data/reference/uk_local_authorities_current.csv"


def test_hand_known_pages_are_laid_on_the_national_registry():
    councils = load_registry()
    assert len({c["id"] for c in councils}) == len(councils) == 380
    for c in councils:
        assert c["id"].startswith("E") and c["type"] in COUNCIL_TYPES
        assert all(u.startswith(("http://", "https://")) for u in c["spending_pages"])
    known = [c for c in councils if c["spending_pages"]]
    assert len(known) >= 30 and all(c["found_by"] == "registry" for c in known)
    leeds = next(c for c in councils if c["id"] == "E08000035")
    assert leeds["spending_pages"] == ["https://datamillnorth.org/dataset/council-spending"]
    assert leeds["name"] == "Leeds City Council" and leeds["threshold"] == 500
    harrogate = next(c for c in councils if c["id"] == "E07000165")
    assert (
        not harrogate["current"] and harrogate["replaced_by"] == ["E06000065"] and harrogate["spending_pages"]
    )


def test_national_registry_matches_the_source_registers(shared, tmp_path):
    """332 current English bodies in mySociety's register, each with a website; names, codes, types
    as the registers say; the committed england.csv is what the builder makes from them today."""
    from crawler.registry_build import NATIONAL_REGISTRY, build

    rebuilt = build(shared, tmp_path / "england.csv")
    assert (tmp_path / "england.csv").read_text(encoding="utf-8") == NATIONAL_REGISTRY.read_text(
        encoding="utf-8"
    )
    with (shared / MYSOCIETY).open(encoding="utf-8-sig") as fh:
        source = [r for r in csv.DictReader(fh) if r["nation"] == "England"]
    current_codes = {r["gss-code"] for r in source if r["current-authority"] == "True"}
    assert len(current_codes) == 332 and len(rebuilt) == len(source)
    councils = {c["id"]: c for c in load_registry()}
    current = [c for c in councils.values() if c["current"]]
    assert {c["id"] for c in current} == current_codes
    assert all(c["website"].startswith(("http://", "https://")) for c in current)
    with (shared / "data/registers/full/digital_land_organisation_2023-11.csv").open(encoding="utf-8") as fh:
        websites = {
            r["statistical-geography"]: r["website"] for r in csv.DictReader(fh) if r["statistical-geography"]
        }
    by_code = {r["gss-code"]: r for r in source}
    sample = {
        "E08000035": "metropolitan",
        "E09000001": "city_corporation",
        "E06000053": "unitary",
        "E61000001": "strategic_authority",
        "E47000001": "combined_authority",
        "E10000008": "county",
        "E07000041": "district",
        "E09000006": "london_borough",
        "E06000066": "unitary",
    }
    for gss, kind in sample.items():
        assert councils[gss]["name"] == by_code[gss]["official-name"] and councils[gss]["type"] == kind
        built = next(r for r in rebuilt if r["id"] == gss)
        assert built["website"] == websites.get(gss, ""), gss  # hand entries may correct it on top
    assert councils["E06000053"]["name"] == "Council of the Isles of Scilly"
    # Abolished councils stay, with their end date and successor.
    craven = councils["E07000163"]
    assert (
        not craven["current"]
        and craven["end_date"] == "2023-04-01"
        and craven["replaced_by"] == ["E06000065"]
    )
    types = {c["type"] for c in current}
    assert {"county", "district", "unitary", "metropolitan", "london_borough"} <= types


def test_bundled_registry_ids_are_real_gss_codes(shared):
    with (shared / MYSOCIETY).open(encoding="utf-8") as fh:
        register = {r["gss-code"]: r for r in csv.DictReader(fh)}
    for c in load_registry():
        assert c["id"] in register, c
        assert register[c["id"]]["nation"] == "England"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "leeds", "name": "Leeds", "type": "metropolitan"}, "field 'id'"),
        ({"id": "E08000035", "name": "Leeds", "type": "city"}, "field 'type'"),
        ({"id": "E08000035", "name": "Leeds", "spending_pages": ["ftp://x"]}, "field 'spending_pages'"),
        ({"id": "E08000035", "name": "Leeds", "threshold": "500"}, "field 'threshold'"),
        ({"id": "E08000035", "name": "Leeds", "ckan_api": "https://x.org/api"}, "field 'ckan_api'"),
    ],
)
def test_bad_registry_entries_name_file_entry_and_field(tmp_path, entry, message):
    path = tmp_path / "councils.yml"
    import yaml

    path.write_text(yaml.safe_dump({"councils": [entry]}), encoding="utf-8")
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert str(path) in str(err.value) and "council #1" in str(err.value) and message in str(err.value)


def test_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "councils.yml"
    path.write_text(
        textwrap.dedent("""\
        councils:
          - {id: E08000035, name: Leeds, type: metropolitan, spending_pages: [https://a.example/]}
          - {id: E08000035, name: Leeds again, type: metropolitan, spending_pages: [https://b.example/]}
        """),
        encoding="utf-8",
    )
    with pytest.raises(RegistryError, match="council #2: duplicate id E08000035"):
        load_registry(path)


@pytest.fixture(scope="module")
def register(shared, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("register") / "council_register.csv"
    n = import_register(str(shared / MYSOCIETY), out)
    assert n == 470
    return out


def test_abolished_councils_stay_resolvable(register):
    craven = resolve("Craven", register=register, registry=[])
    assert craven["id"] == "E07000163" and craven["end_date"] == "2023-04-01"
    assert craven["replaced_by"] == ["E06000065"] and craven["replaced_by_codes"] == ["NYE"]
    harrogate = resolve("Harrogate Borough Council", register=register, registry=[])
    assert harrogate["id"] == "E07000165" and harrogate["end_date"] == "2023-04-01"
    assert resolve("HAG", register=register, registry=[])["id"] == "E07000165"
    assert resolve("E07000165", register=register, registry=[])["name"] == "Harrogate Borough Council"


def test_resolve_merges_registry_and_register_and_prefers_current(register):
    leeds = resolve("leeds city council", register=register)
    assert leeds["id"] == "E08000035" and leeds["spending_pages"] and leeds["register_code"] == "LDS"
    # "Somerset" names both the abolished county council and the 2023 unitary: the current one wins.
    assert resolve("Somerset", register=register, registry=[])["id"] == "E06000066"
    assert resolve("Somerset County Council", register=register, registry=[])["end_date"] == "2023-04-01"
    assert resolve("Nowhere-on-Sea", register=register) is None


def test_import_refuses_a_file_that_is_not_the_register(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,code\nLeeds,E08000035\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="missing columns"):
        import_register(str(bad), tmp_path / "out.csv")


def test_cli_councils_import_list_and_resolve(shared, tmp_path):
    from councilspend.cli import main

    runner = CliRunner()
    out = tmp_path / "register.csv"
    result = runner.invoke(main, ["councils", "import", str(shared / MYSOCIETY), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Imported 470 councils" in result.output and out.exists()
    result = runner.invoke(main, ["councils", "resolve", "Craven", "--register", str(out)])
    assert result.exit_code == 0 and '"end_date": "2023-04-01"' in result.output
    result = runner.invoke(main, ["councils", "list"])
    assert result.exit_code == 0 and "E08000035" in result.output


def test_cli_crawl_rejects_unknown_council(tmp_path):
    from councilspend.cli import main

    result = CliRunner().invoke(main, ["crawl", "--council", "E00000000", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "not in the registry: E00000000" in result.output


def test_cli_councils_list_json_prints_the_registry_with_discovered_pages(tmp_path):
    from councilspend.cli import main

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "discovery.csv").write_text(
        "council_id,kind,status,url,found_by,reason,requests,checked_at\n"
        'E06000053,page,found,https://www.scilly.gov.uk/spend,"link ""Spending over £500"" on /",,4,x\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["councils", "list", "--json", "--current", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    import json

    councils = {c["id"]: c for c in json.loads(result.output)}
    assert len(councils) == 332
    assert councils["E06000053"]["spending_pages"] == ["https://www.scilly.gov.uk/spend"]
    assert councils["E06000053"]["found_by"].startswith("discovered: link")
    assert councils["E08000035"]["found_by"] == "registry" and councils["E08000035"]["type"] == "metropolitan"
    assert set(councils["E08000035"]) >= {"id", "name", "type", "website", "spending_pages", "found_by"}


def test_a_data_directory_s_own_councils_plus_the_english_ones_its_files_name(tmp_path) -> None:
    """The demo's fictional councils keep their names after a real file is added beside them."""
    import yaml

    from crawler.registry import registry_for_data

    own = tmp_path / "councils.yml"
    own.write_text(
        yaml.safe_dump(
            {
                "councils": [
                    {
                        "id": "E99999901",
                        "name": "Demoshire County Council",
                        "type": "county",
                        "website": "http://127.0.0.1/demo/",
                        "spending_pages": ["http://127.0.0.1/demo/spending/"],
                    }
                ]
            }
        )
    )
    councils = registry_for_data(own, {"E99999901", "E08000021", ""})
    names = {c["id"]: c["name"] for c in councils}
    assert names["E99999901"] == "Demoshire County Council"
    assert "Newcastle" in names["E08000021"]
    assert len(names) == 2
    assert registry_for_data(tmp_path / "absent.yml", {"E08000021"}) is None
