"""kt_lib.knowledge.wordnet: offline WordNet 3.0 recipe, error messages, wnid look-ups."""

from __future__ import annotations

import pytest
from noun_index import open_noun_index

from kt_lib.knowledge import wordnet as W


def test_lexnames_has_45_numbered_lines():
    lines = W.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[5] == "05\tnoun.animal\t1"
    assert (
        lines[0] == "00\tadj.all\t3"
        and lines[2] == "02\tadv.all\t4"
        and lines[-1] == "44\tadj.ppl\t3"
    )
    assert all(int(line.split("\t")[0]) == i for i, line in enumerate(lines))


def test_build_from_debian_copies_files_and_writes_lexnames(tmp_path):
    deb = tmp_path / "deb"
    deb.mkdir()
    for name in W.REQUIRED_FILES + ("cntlist",):
        (deb / name).write_text(f"fake {name}\n")
    out = W.build_from_debian(tmp_path / "nltk_data", deb)
    assert out == tmp_path / "nltk_data" / "corpora" / "wordnet"
    for name in W.REQUIRED_FILES + ("cntlist", "lexnames"):
        assert (out / name).is_file() and not (out / name).is_symlink()
    assert (out / "index.sense").read_text() == "fake index.sense\n"
    assert len((out / "lexnames").read_text().splitlines()) == 45


def test_build_from_debian_names_missing_files(tmp_path):
    (tmp_path / "deb").mkdir()
    (tmp_path / "deb" / "data.noun").write_text("x")
    with pytest.raises(
        FileNotFoundError, match="(?s)index.sense.*apt-get install wordnet-base wordnet-sense-index"
    ):
        W.build_from_debian(tmp_path / "nd", tmp_path / "deb")


def test_ensure_wordnet_error_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(W, "_READER", None)
    monkeypatch.setattr(W, "_try_load", lambda: None)
    with pytest.raises(RuntimeError) as err:
        W.ensure_wordnet(tmp_path / "nd", download=False, debian_dir=tmp_path / "no-such-dir")
    assert "apt-get install wordnet-base wordnet-sense-index" in str(err.value)
    assert "python -m nltk.downloader wordnet" in str(err.value)


@pytest.mark.parametrize("bad", ["02084071", "n0208407", "x02084071", "n0208407a", 2084071])
def test_wnid_format_is_checked_before_loading(bad):
    with pytest.raises(ValueError, match="POS letter and 8 digits"):
        W.wnid_to_synset(bad)


@pytest.fixture(scope="module")
def noun_index():
    try:
        ix = open_noun_index()
    except RuntimeError:
        pytest.skip("WordNet 3.0 not installed: apt-get install wordnet-base wordnet-sense-index")
    yield ix
    ix.close()


def test_noun_index_reads_wordnet_30_offsets(noun_index):
    assert noun_index.lemmas(2084071) == ["dog", "domestic_dog", "Canis_familiaris"]
    assert noun_index.lemmas(1440764) == ["tench", "Tinca_tinca"]
    assert 2084071 in noun_index.ancestors(2110185)  # Siberian husky -> dog
    with pytest.raises(KeyError, match="not a WordNet 3.0 noun synset"):
        noun_index.lemmas(2084072)


@pytest.mark.slow  # the one test that loads NLTK's full reader (about 4 s): the offline recipe works end to end
def test_nltk_reader_is_wordnet_30_and_maps_wnids(noun_index):
    wn = W.ensure_wordnet(download=False)
    assert wn.get_version() == "3.0"
    dog = W.wnid_to_synset("n02084071")
    assert dog.name() == "dog.n.01" and dog.lexname() == "noun.animal"
    assert W.wnid_to_synset("n01440764").name() == "tench.n.01"
    assert W.synset_to_wnid(dog) == "n02084071"
    path = [s.name() for s in W.hypernym_path(W.wnid_to_synset("n02100583"))]  # vizsla
    assert (
        path[:3] == ["vizsla.n.01", "pointer.n.04", "sporting_dog.n.01"]
        and path[-1] == "entity.n.01"
    )
    assert "dog.n.01" in path
    assert W.is_hyponym_of(W.wnid_to_synset("n02100583"), dog)
    assert wn.lemma_from_key("dog%1:05:00::").synset() == dog
    with pytest.raises(KeyError, match="WordNet 3.1"):
        W.wnid_to_synset("n02084072")
