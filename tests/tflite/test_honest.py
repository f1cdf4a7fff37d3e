"""Every command that predicts says once, on stderr, when the model does not see people (no
joint reaches confidence 0.3), which model it is, and that the shipped preset does."""

from __future__ import annotations

from danet_edge import presets


def test_random_weights_get_a_note_naming_the_file_and_the_preset(tiny_tflite, person_image,
                                                                  capsys):
    from danet_edge.cli import main

    image, box = person_image
    assert main([str(tiny_tflite), str(image), "--box", ",".join(map(str, box))]) == 0
    err = capsys.readouterr().err
    assert err.count("note: tiny.tflite (danet_tiny") == 1
    assert "is not confident here: no joint reached confidence 0.3" in err
    assert f"The shipped preset {presets.list_presets()[0]!r} was trained on real photos" in err


def test_the_preset_on_a_photo_gets_no_note(person_image, capsys):
    from danet_edge.cli import main

    image, box = person_image
    assert main([str(image), "--box", ",".join(map(str, box))]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_preset_file_is_described_by_its_name_and_data():
    name = presets.list_presets()[0]
    text = presets.describe_model(presets.preset_file(name, "int8"))
    assert text.startswith(f"preset {name!r} (trained on ") and "lspet" in text
    assert presets.confidence_note(0.31, presets.preset_file(name)) is None
    note = presets.confidence_note(0.1, presets.preset_file(name))
    assert note.startswith(f"note: preset {name!r}") and "shipped preset" not in note


def test_without_a_detector_the_note_names_the_installed_command(tmp_path, monkeypatch, capsys):
    from danet_edge.cli import load_detector

    monkeypatch.setenv("DANET_DETECTOR", str(tmp_path / "none.tflite"))
    assert load_detector(None) is None
    err = capsys.readouterr().err
    assert "danet-fetch-detector" in err and str(tmp_path / "none.tflite") in err
    assert "tools/fetch_detector.py" not in err
