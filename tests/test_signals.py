from __future__ import annotations

import pytest

from ks1bot.signals import load_signals

S = load_signals()


@pytest.mark.parametrize("text", [
    "hallo meier bau äh dringend bei uns kann keiner mehr in ks1 arbeiten es kommt nur ein weißes fenster",
    "Totaler Stillstand im Lager, KS1 startet nicht",
    "niemand kann arbeiten",
    "Our system is down since 8 am",
    "nobody can work, KS1 shows error 0x80004005",
    "Produktion steht!",
])
def test_production_down(text):
    assert S.is_production_down(text)


@pytest.mark.parametrize("text", [
    "Wie kann ich in KS1 einen Mindestbestand hinterlegen?",
    "Unser Switch blinkt orange und das Netzwerk ist langsam",
    "Kann jemand arbeiten?",
])
def test_not_production_down(text):
    assert not S.is_production_down(text)


@pytest.mark.parametrize("text", [
    "seit dem Windows-Update letzte Nacht meldet KS1 beim Start 'Komponente nicht registriert'",
    "Unser Lieferscheindruck aus KS1 ist seit dem letzten Build verschoben",
    "our existing price import in KS1 fails since Monday's update",
    "KS1 crashes when I export the customer list",
    "Im Anfrageshop erscheint ein Fehler 500",
])
def test_ks1_malfunction(text):
    assert S.reports_ks1_malfunction(text)


@pytest.mark.parametrize("text", [
    "Der SQL Server Agent startet nicht mehr",  # no KS1 named
    "Können Sie in KS1 unser Logo auf der Rechnung austauschen?",  # KS1 but a wish
    "Wir wollen den KS1-Server auf einen neuen Hyper-V-Host umziehen",
])
def test_no_ks1_malfunction(text):
    assert not S.reports_ks1_malfunction(text)


@pytest.mark.parametrize("text", [
    "ja servus hier ist der hofer ähm sag mal ist hilfe bei netzwerkproblemen eigentlich im vertrag mit drin",
    "Ist die Hilfe bei Problemen mit unserem SQL Server im Supportvertrag enthalten?",
    "is help with windows issues covered by the contract?",
    "is remote support via teamviewer included or extra",
    "Deckt der Supportvertrag auch Druckerprobleme ab?",
])
def test_coverage_questions(text):
    assert S.asks_about_coverage(text)


@pytest.mark.parametrize("text", [
    "Unser VPN geht nicht mehr, können Sie helfen?",
    "Bitte richten Sie uns einen neuen Import für die Lieferantenpreise ein.",
])
def test_not_coverage_questions(text):
    assert not S.asks_about_coverage(text)
