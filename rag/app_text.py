"""Every string the web app shows, in French and English. The page's static labels go to Gradio's
i18n (chosen by the browser's language); what the server renders (the sources panel, reports,
errors) picks the same language from the request's Accept-Language header. Keys are shared."""

from __future__ import annotations

from typing import Literal

UiLang = Literal["fr", "en"]

TEXTS: dict[UiLang, dict[str, str]] = {
    "fr": {
        "heading": "## Questions sur vos articles\nChaque réponse cite le passage exact d’où elle vient.",
        "conversation": "Conversation",
        "question": "Votre question",
        "placeholder": "Posez une question sur les articles…",
        "send": "Envoyer",
        "stop": "Arrêter",
        "clear": "Nouvelle conversation",
        "examples": "Exemples",
        "sources": "Sources",
        "settings": "Réglages",
        "k": "Passages lus (k)",
        "answerer": "Rédaction de la réponse",
        "answerer_info": "extractive : cite les phrases exactes (recommandé) ; local : Gemma 3 270M ; "
        "openai : serveur compatible OpenAI",
        "min_support": "Appui exigé pour répondre",
        "min_support_info": "Plus haut : refuse plus souvent quand les articles ne disent pas la réponse, mais "
        "répond moins souvent (BENCHMARKS.md, « Questions the sources almost answer »)",
        "articles": "Articles",
        "upload": "Ajouter : fichiers {types} (10 Mo max. chacun)",
        "overwrite": "Remplacer les fichiers existants",
        "add": "Ajouter",
        "remove_choice": "Retirer des articles",
        "remove": "Retirer…",
        "remove_yes": "Confirmer le retrait",
        "remove_no": "Annuler",
        # rendered by the server
        "empty_sources": "Les passages cités apparaîtront ici.",
        "support": "Appui des sources : {support:.2f} (seuil {threshold:.2f} {verdict})",
        "reached": "atteint",
        "not_reached": "non atteint",
        "closest_title": "Passage le plus proche — pas une réponse directe",
        "closest_text": "les articles ne disent pas cela directement ; voici ce qui s’en approche le plus.",
        "characters": "caractères",
        "close_title": "À vérifier aussi",
        "close_text": "ce passage a obtenu un score proche de celui du passage cité, ou plus élevé ; la réponse "
        "peut s’y trouver.",
        "none_verified": "Aucune phrase de la réponse n’est vérifiée dans ces passages consultés",
        "related": "Passages proches — pas une réponse",
        "unsupported": "⚠ Non vérifié dans les sources",
        "ask_first": "Écrivez une question.",
        "choose_files": "Choisissez d’abord un ou plusieurs fichiers (.md, .txt, .html, .pdf).",
        "choose_articles": "Choisissez d’abord un ou plusieurs articles.",
        "unreadable": "illisible ({reason}), non ajouté",
        "added": "ajouté et indexé",
        "updated": "mis à jour et réindexé",
        "unchanged": "inchangé (déjà indexé tel quel)",
        "indexing": "Indexation ({n} passages calculés)",
        "add_summary": "{added} ajouté(s), {changed} mis à jour, {refused} refusé(s) ; index : {documents} "
        "articles, {chunks} passages.",
        "confirm_remove": "Retirer {n} article(s) de l’index : {names} ?",
        "removed": "retiré",
        "moved": "fichier déplacé dans {folder}/",
        "index_size": "Index : {documents} articles, {chunks} passages.",
        "no_articles": "Aucun article indexé.",
        "articles_caption": "{n} articles indexés",
        "col_title": "Titre",
        "col_id": "Identifiant",
        "col_lang": "Langue",
        "col_chunks": "Passages",
        "col_indexed": "Indexé le",
    },
    "en": {
        "heading": "## Ask your articles\nEvery answer quotes the exact passage it comes from.",
        "conversation": "Conversation",
        "question": "Your question",
        "placeholder": "Ask a question about the articles…",
        "send": "Send",
        "stop": "Stop",
        "clear": "New conversation",
        "examples": "Examples",
        "sources": "Sources",
        "settings": "Settings",
        "k": "Passages read (k)",
        "answerer": "Who writes the answer",
        "answerer_info": "extractive: quotes the exact sentences (recommended); local: Gemma 3 270M; "
        "openai: an OpenAI-compatible server",
        "min_support": "Support required to answer",
        "min_support_info": "Higher: refuses more often when the articles do not say the answer, but answers "
        "less often (BENCHMARKS.md, “Questions the sources almost answer”)",
        "articles": "Articles",
        "upload": "Add: {types} files (10 MB max. each)",
        "overwrite": "Replace existing files",
        "add": "Add",
        "remove_choice": "Remove articles",
        "remove": "Remove…",
        "remove_yes": "Confirm removal",
        "remove_no": "Cancel",
        "empty_sources": "The cited passages will appear here.",
        "support": "Support from the sources: {support:.2f} (threshold {threshold:.2f} {verdict})",
        "reached": "reached",
        "not_reached": "not reached",
        "closest_title": "Closest passage — not a direct answer",
        "closest_text": "the articles do not say this directly; this is what comes closest.",
        "characters": "characters",
        "close_title": "Check this one too",
        "close_text": "this passage scored close to the cited one, or higher; the answer may be there.",
        "none_verified": "No sentence of the answer is verified in these passages",
        "related": "Related passages — not an answer",
        "unsupported": "⚠ Not verified in the sources",
        "ask_first": "Type a question.",
        "choose_files": "Choose one or more files first (.md, .txt, .html, .pdf).",
        "choose_articles": "Choose one or more articles first.",
        "unreadable": "unreadable ({reason}), not added",
        "added": "added and indexed",
        "updated": "updated and re-indexed",
        "unchanged": "unchanged (already indexed as is)",
        "indexing": "Indexing ({n} passages embedded)",
        "add_summary": "{added} added, {changed} updated, {refused} refused; index: {documents} articles, "
        "{chunks} passages.",
        "confirm_remove": "Remove {n} article(s) from the index: {names}?",
        "removed": "removed",
        "moved": "file moved to {folder}/",
        "index_size": "Index: {documents} articles, {chunks} passages.",
        "no_articles": "No article indexed.",
        "articles_caption": "{n} articles indexed",
        "col_title": "Title",
        "col_id": "Id",
        "col_lang": "Language",
        "col_chunks": "Passages",
        "col_indexed": "Indexed",
    },
}

EXAMPLES: dict[UiLang, list[str]] = {
    "fr": [
        "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?",
        "Combien de chercheurs sont capables de construire des modèles de pointe ?",
        "Pourquoi la levée de fonds de Databricks sert-elle surtout aux employés ?",
        "Pour combien Naveen Rao a-t-il vendu MosaicML ?",
    ],
    "en": [
        "How much did Google pay to bring back Noam Shazeer?",
        "How many researchers can build frontier models?",
        "Why does Databricks' funding round mostly serve its employees?",
        "How much did Naveen Rao sell MosaicML for?",
    ],
}


def ui_lang(accept_language: str | None) -> UiLang:
    """The UI language for an Accept-Language header: French when French is preferred over
    English, else English (Gradio's own fallback)."""
    best: tuple[float, UiLang] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("fr", "en"):
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        key = (quality - position * 1e-6, primary)
        if best is None or key[0] > best[0]:
            best = key  # type: ignore[assignment]
    return best[1] if best else "en"


def t(lang: UiLang, key: str, **values: object) -> str:
    """The string `key` in `lang`, with `values` filled in."""
    text = TEXTS[lang][key]
    return text.format(**values) if values else text
