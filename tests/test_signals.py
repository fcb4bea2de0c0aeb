from __future__ import annotations

import pytest

from ks1bot.core.signals import load_signals

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


@pytest.mark.parametrize("text, article", [
    ("Ist die Hilfe beim VPN eigentlich Teil unseres Supportvertrags?", "support-contract"),
    ("zählt so ein workshop für neue lageristen zu den leistungen vom supportvertrag oder wäre das extra",
     "support-contract"),
    ("Fallen Anpassungen an unseren Formularen unter den Supportvertrag, oder werden die separat verrechnet?",
     "support-contract"),
    ("quick q – is help with hyper-v covered by our KS1 support contract?", "support-contract"),
    ("does your support contract include training for new starters", "support-contract"),
    ("Deckt der Updateservice auch die Umstellung auf Windows 11 ab?", "update-service"),
    ("bis wann erreichen wir euch, wenn unser Terminalserver ausfällt?", "support-hours"),
    ("sind Sie zwischen den Jahren überhaupt besetzt?", "support-hours"),
    ("Können wir euch auch aus der Filiale in der Schweiz erreichen?", "support-hours"),
])
def test_contract_questions_name_their_article(text, article):
    assert S.asks_about_coverage(text)
    assert S.contract_article(text)[0] == article


@pytest.mark.parametrize("text", [
    "was kostet denn sowas bei ihnen und wann hätten sie da zeit für eine schulung",
    "Unser VPN bricht ständig ab, bitte helfen.",
])
def test_not_contract_questions(text):
    assert not S.asks_about_coverage(text)


@pytest.mark.parametrize("text", [
    "Hat sich erledigt, unser Techniker war da und hat den Scanner getauscht. Schönes Wochenende!",
    "ok thanks, sorted now",
    "Cheers, will pass it on to our IT guys.",
    "Bitte doch nicht zurückrufen – der Kollege hat es selbst hinbekommen. Danke trotzdem!",
    "Danke für die schnelle Rückmeldung, haben wir verstanden – das macht unser Admin.",
])
def test_closing_the_matter(text):
    assert S.closes_the_matter(text)


@pytest.mark.parametrize("text", [
    "hey, nothing critical, KS1 still works fine – but the dunning preview shows wrong due dates",
    "Hat sich erledigt? Bei uns kommt immer noch der Fehler.",
    "Danke, das Update ist drin, aber jetzt stürzt KS1 beim Buchen ab.",
])
def test_not_closing_the_matter(text):
    assert not S.closes_the_matter(text)


def test_person_requests_and_ks1_how_to():
    assert S.asks_for_person("können Sie mich bitte zurückrufen wegen dem Mahnlauf")
    assert S.asks_for_person("can someone call me back please")
    assert not S.asks_for_person("Wie drucke ich den Lieferschein neu?")
    assert S.asks_how_to_in_ks1("und bis dahin also wie erfasse ich denn im KS1 ein angebot")
    assert not S.asks_how_to_in_ks1("Bieten Sie Schulungen für Excel an?")


def test_ks1_said_to_be_fine_is_no_ks1_malfunction():
    assert not S.reports_ks1_malfunction("Windows bricht beim Funktionsupdate ab. KS1 selbst läuft normal.")
    assert not S.reports_ks1_malfunction("ich hab ne frage nicht zum KS1 sondern zu excel, die formeln gehen nicht")
    assert S.reports_ks1_malfunction("Seit dem Windows-Update bricht KS1 beim Start ab.")


def test_application_errors_in_ks1_functions_are_ks1_malfunctions():
    text = ("Aber seit der Migration kommt beim Tagesabschluss in der Kasse \"Fehler 3021 – Belegnummernkreis "
            "gesperrt\" und wir können die Kassa nicht abschließen.")
    assert S.reports_ks1_malfunction(text)
    assert not S.reports_ks1_malfunction("Der Drucker im Lager druckt keine Lieferscheine mehr, nur leere Seiten.")


def test_how_to_questions_about_ks1_functions_in_dialect():
    assert S.asks_how_to_in_ks1("wie mached mir de tagesabschluss wenn mir vergässe händ d kasse z schlüsse")
    assert not S.asks_how_to_in_ks1("Wie mache ich im Excel eine Pivot-Tabelle aus meiner Umsatzliste?")
    assert S.reports_malfunction("Staffelpreise greifen nicht, alles zum Einzelpreis berechnet")
