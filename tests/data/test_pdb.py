"""The PDB reader, the shipped adenylate kinase pair and the atomic scattering factors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scinas.data.xfel.pdb import element_from_name, format_pdb, read_pdb
from scinas.data.xfel.scattering import CROMER_MANN, form_factors
from scinas.data.xfel.simulator import load_conformations, shipped_conformations
from scinas.errors import DataError
from tests.data.xfel_fixtures import molecule

ATOMIC_NUMBERS = {"H": 1, "C": 6, "N": 7, "O": 8, "Na": 11, "Mg": 12, "P": 15, "S": 16, "Cl": 17, "K": 19, "Ca": 20,
                  "Mn": 25, "Fe": 26, "Cu": 29, "Zn": 30, "Se": 34}


def _record(name: str, x: float, *, residue: str = "ALA", hetero: bool = False, element: str = "",
            location: str = " ") -> str:
    record = "HETATM" if hetero else "ATOM"
    return f"{record:<6}{1:>5} {name:<4}{location}{residue:>3} A{1:>4}    {x:8.3f}{0.0:8.3f}{0.0:8.3f}  1.00  0.00" \
           f"          {element:>2}"


def test_the_shipped_pair_is_one_atom_list_of_heavy_atoms() -> None:
    open_, closed = (read_pdb(path) for path in shipped_conformations())
    assert open_.n_atoms == closed.n_atoms == 1656
    assert open_.names == closed.names and open_.elements == closed.elements
    assert set(open_.elements) == {"C", "N", "O", "S"}
    assert not np.allclose(open_.coordinates, closed.coordinates)
    aligned = load_conformations(shipped_conformations())  # the closed state superposed onto the open one
    rmsd = np.sqrt(((aligned[0].coordinates - aligned[1].coordinates) ** 2).sum(axis=1).mean())
    assert 3.0 < rmsd < 12.0  # a hinge motion of several Å, not noise and not a different molecule


def test_elements_from_columns_or_names(tmp_path: Path) -> None:
    lines = [_record(" CA", 1.0, element="C"), _record(" CA", 2.0), _record("1HB", 3.0),
             _record("ZN", 4.0, residue="ZN", hetero=True), _record("FE", 5.0, residue="HEM", hetero=True),
             _record(" CA", 6.0, residue="HEM", hetero=True), _record("OXT", 7.0), "TER", "END"]
    path = tmp_path / "a.pdb"
    path.write_text("\n".join(lines) + "\n")
    structure = read_pdb(path)
    assert structure.elements == ("C", "C", "H", "Zn", "Fe", "C", "O")
    assert structure.coordinates[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert structure.lines == (1, 2, 3, 4, 5, 6, 7)
    assert element_from_name("HG21", "THR", False) == "H"
    assert element_from_name("CL", "CL", True) == "Cl"


def test_first_model_and_first_alternate_location_only(tmp_path: Path) -> None:
    lines = ["MODEL        1", _record(" N", 1.0), _record(" CA", 2.0, location="A"), _record(" CA", 9.0, location="B"),
             "ENDMDL", "MODEL        2", _record(" N", 50.0), "ENDMDL"]
    path = tmp_path / "m.pdb"
    path.write_text("\n".join(lines))
    structure = read_pdb(path)
    assert structure.coordinates[:, 0].tolist() == [1.0, 2.0]


def test_round_trip_and_filters(tmp_path: Path) -> None:
    structure = molecule(12)
    path = tmp_path / "m.pdb"
    path.write_text(format_pdb(structure, remarks=["test"]))
    back = read_pdb(path)
    assert back.elements == structure.elements and back.names == structure.names
    np.testing.assert_allclose(back.coordinates, structure.coordinates, atol=5e-4)
    waters = tmp_path / "w.pdb"
    waters.write_text("\n".join([_record(" O", 1.0), _record(" O", 2.0, residue="HOH", hetero=True),
                                 _record(" H1", 2.5, residue="HOH", hetero=True), _record(" H", 3.0)]))
    assert read_pdb(waters).without_water().n_atoms == 2
    assert read_pdb(waters).without_hydrogens().elements == ("O", "O")


@pytest.mark.parametrize(("text", "message"), [
    (None, "no such PDB file"),
    (b"\x89PNG\r\n\x1a\n\x00\xff", "not text"),
    ("HEADER    nothing here\nEND\n", "no ATOM or HETATM record"),
    ("REMARK ok\nATOM      1  CA  ALA A   1      1.000   2.000\n", r"line 2: .*too short"),
    ("ATOM      1  CA  ALA A   1      1.000   abcde   3.000  1.00  0.00           C\n", r"line 1: y = 'abcde'"),
    ("ATOM      1  12  ALA A   1      1.000   2.000   3.000  1.00  0.00\n", r"line 1: no element"),
])
def test_unreadable_files_name_the_file_and_line(tmp_path: Path, text: str | bytes | None, message: str) -> None:
    path = tmp_path / "bad.pdb"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(DataError, match=message) as caught:
        read_pdb(path)
    assert "bad.pdb" in str(caught.value)


def test_scattering_factors_start_at_the_atomic_number_and_fall() -> None:
    q = np.linspace(0.0, 4.0 * np.pi, 50)  # sin θ / λ up to 1 Å⁻¹
    for element, coefficients in CROMER_MANN.items():
        f = form_factors([element], q)[0]
        assert f[0] == pytest.approx(ATOMIC_NUMBERS[element], abs=0.02), element
        assert np.all(np.diff(f) < 0), element
        assert len(coefficients) == 9
    both = form_factors(["fe", "D"], np.array([0.0]))
    assert both[0, 0] == pytest.approx(26, abs=0.02) and both[1, 0] == pytest.approx(1, abs=0.01)
    with pytest.raises(DataError, match="element 'Xx'"):
        form_factors(["C", "Xx"], q)
