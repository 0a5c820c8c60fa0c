"""Recipes: YAML + key=value overrides validated into typed dataclasses, with errors that say what and where."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner

from core.cli import cli
from core.errors import AppsError
from core.recipes import Recipe, load_recipe, parse_override, recipe_to_dict


@dataclass
class DemoRecipe(Recipe):
    image_size: int = 224
    labels: list[str] = field(default_factory=list)


def write(tmp_path, text: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_typo_key_suggests_the_closest_valid_key(tmp_path):
    with pytest.raises(AppsError) as error:
        load_recipe(DemoRecipe, write(tmp_path, "learning_rte: 1e-4\n"))
    assert "learning_rte" in error.value.message and "learning_rate" in error.value.hint
    assert error.value.where.endswith("recipe.yaml")


def test_typo_in_nested_and_override_keys():
    with pytest.raises(AppsError) as nested:
        load_recipe(DemoRecipe, None, ["lora.alpah=4"])
    assert "lora.alpah" in nested.value.message and "'lora.alpha'" in nested.value.hint
    with pytest.raises(AppsError) as top:
        load_recipe(DemoRecipe, None, ["image_sise=32"])
    assert "image_size" in top.value.hint


def test_wrong_type_names_key_value_and_expected_type(tmp_path):
    with pytest.raises(AppsError) as error:
        load_recipe(DemoRecipe, write(tmp_path, "batch_size: eight\n"))
    text = str(error.value)
    assert "batch_size" in text and "'eight'" in text and "int" in text
    with pytest.raises(AppsError, match="expected one of full, lora, freeze"):
        load_recipe(DemoRecipe, None, ["finetune=qlora"])
    with pytest.raises(AppsError, match="gradient_checkpointing.*bool"):
        load_recipe(DemoRecipe, None, ["gradient_checkpointing=maybe"])


def test_yaml_syntax_error_gives_file_and_line(tmp_path):
    path = write(tmp_path, "learning_rate: 1e-4\nbatch_size: 8\nlora: [r: 8\nseed: 1\n")
    with pytest.raises(AppsError) as error:
        load_recipe(DemoRecipe, path)
    where = error.value.where
    assert where.startswith(f"{path}:") and int(where.split(":")[1]) in (3, 4)


def test_dotted_overrides_and_yaml_values(tmp_path):
    path = write(tmp_path, "learning_rate: 5.0e-5\nlora:\n  r: 8\n  target_modules: all\n")
    recipe = load_recipe(
        DemoRecipe,
        path,
        [
            "learning_rate=1e-4",
            "lora.r=16",
            "lora.target_modules=[q_proj, v_proj]",
            "max_steps=50",
            "labels=cat,dog",
            "eval_steps=null",
            "gradient_checkpointing=true",
        ],
    )
    assert recipe.learning_rate == 1e-4 and recipe.max_steps == 50
    assert recipe.lora.r == 16 and recipe.lora.alpha == 16  # untouched nested keys keep their values
    assert recipe.lora.target_modules == ["q_proj", "v_proj"]
    assert recipe.labels == ["cat", "dog"] and recipe.eval_steps is None and recipe.gradient_checkpointing
    assert recipe_to_dict(recipe)["lora"]["r"] == 16
    assert parse_override("lora.dropout=0.05") == ("lora.dropout", 0.05)
    with pytest.raises(AppsError, match="key=value"):
        parse_override("learning_rate")


def test_every_shipped_recipe_validates():
    from core.plugins import get_manager

    manager = get_manager()
    checked = 0
    for name, app_class in manager.apps().items():
        for _recipe, entry in manager.recipes(name).items():
            assert app_class.recipe_class is not None, f"{name} ships recipes but has no recipe_class"
            load_recipe(app_class.recipe_class, entry["path"])
            checked += 1
    assert checked >= 1


def test_apps_info_lists_recipes(tmp_path, monkeypatch):
    import tiny_app

    tiny_app.install(tmp_path, monkeypatch)
    result = CliRunner().invoke(cli, ["info", "tiny", "--json"])
    assert result.exit_code == 0, result.output
    recipes = json.loads(result.output)["recipes"]
    assert {"tiny-lm", "tiny-lora", "tiny-freeze"} <= set(recipes)
    assert "LoRA" in recipes["tiny-lora"]


def test_train_cli_reports_recipe_errors(tmp_path, monkeypatch):
    import tiny_app

    tiny_app.install(tmp_path, monkeypatch)
    runner = CliRunner()
    unknown = runner.invoke(cli, ["train", "tiny", "-r", "tiny-lmm"])
    assert isinstance(unknown.exception, AppsError) and "tiny-lm" in str(unknown.exception)
    missing = runner.invoke(cli, ["train", "tiny"])
    assert isinstance(missing.exception, AppsError) and "--recipe" in str(missing.exception)
    typo = runner.invoke(cli, ["train", "tiny", "-r", "tiny-lm", "max_step=3"])
    assert isinstance(typo.exception, AppsError) and "max_steps" in typo.exception.hint
