"""German for the dashboard; English text is the key (see server/web/i18n.py)."""

from server.web.locale_de_admin import ADMIN
from server.web.locale_de_session import SESSION

_STATUSES = {
    "status:open": "Offen",
    "status:new": "Neu",
    "status:pending": "Wartend",
    "status:in_progress": "In Bearbeitung",
    "status:closed": "Geschlossen",
    "status:expired": "Abgelaufen",
    "status:all": "Alle",
}

_HISTORY = {
    "event:created": "Erstellt",
    "event:assigned": "Zugewiesen",
    "event:claimed": "Mit Code übernommen",
    "event:joined": "Verbunden",
    "event:left": "Getrennt",
    "event:status_changed": "Status geändert",
    "event:closed": "Geschlossen",
    "event:expired": "Abgelaufen",
    "event:screen_shared": "Bildschirm freigegeben",
    "event:screen_denied": "Bildschirmfreigabe abgelehnt",
    "event:screen_stopped": "Bildschirmfreigabe beendet",
    "actor:system": "System",
    "actor:customer": "Kunde",
    "actor:module": "Supportmodul",
    "actor:expert": "Experte",
    "source:manual": "Manuell angelegt",
    "source:module": "Supportmodul",
    "source:sos": "SOS-Knopf",
    "nobody": "niemand",
    "the customer": "der Kunde",
    "by": "durch",
}

_PAGES = {
    "Service queue": "Servicewarteschlange",
    "Queue": "Warteschlange",
    "New request": "Neue Anfrage",
    "Users": "Benutzer",
    "Groups": "Gruppen",
    "Modules": "Module",
    "Company": "Unternehmen",
    "Log in": "Anmelden",
    "Log out": "Abmelden",
    "Email": "E-Mail",
    "Password": "Passwort",
    "Your session has expired. Please log in again.": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
    "The email or the password is wrong.": "E-Mail-Adresse oder Passwort ist falsch.",
    "Too many login attempts. Try again in {seconds} s.":
        "Zu viele Anmeldeversuche. Versuchen Sie es in {seconds} s erneut.",
    "Back to the queue": "Zurück zur Warteschlange",
    "All open": "Alle offenen",
    "My requests": "Meine Anfragen",
    "Unassigned": "Nicht zugewiesen",
    "Find": "Suchen",
    "Find a request by its code": "Anfrage über ihren Code finden",
    "Available": "Verfügbar",
    "Away": "Abwesend",
    "Go away": "Abwesend melden",
    "Be available": "Verfügbar melden",
    "Status": "Status",
    "Group": "Gruppe",
    "All groups": "Alle Gruppen",
    "Assignee": "Zuständig",
    "Anyone": "Alle",
    "Me": "Ich",
    "Nobody": "Niemand",
    "Filter": "Filtern",
    "Sound": "Ton",
    "Browser notifications": "Browser-Benachrichtigungen",
    "Live": "Live",
    "Reconnecting…": "Verbindung wird wiederhergestellt…",
    "Code": "Code",
    "Customer": "Kunde",
    "Description": "Beschreibung",
    "Created": "Erstellt",
    "Time left": "Verbleibende Zeit",
    "No service requests here.": "Hier gibt es keine Serviceanfragen.",
    "Older requests": "Ältere Anfragen",
    "Request {code} is filed.": "Die Anfrage {code} ist angelegt.",
    "Tell the customer this code: {code}": "Nennen Sie dem Kunden diesen Code: {code}",
    "The customer starts the support module, chooses \"I have a session code\" and types it in. "
    "The request expires at {time}.":
        "Der Kunde startet das Supportmodul, wählt „Ich habe einen Sitzungscode“ und gibt ihn ein. "
        "Die Anfrage läuft am {time} ab.",
    "Source": "Herkunft",
    "Session": "Sitzung",
    "Customer connected": "Kunde verbunden",
    "Customer not connected": "Kunde nicht verbunden",
    "{count} expert(s) connected": "{count} Experte(n) verbunden",
    "Diagnostics": "Diagnosedaten",
    "Actions": "Aktionen",
    "Connect": "Verbinden",
    "Assign to me": "Mir zuweisen",
    "Assign to…": "Zuweisen an…",
    "Assign": "Zuweisen",
    "Unassign": "Zuweisung aufheben",
    "Close": "Schließen",
    "This request is {status}; nothing more can be done with it.":
        "Diese Anfrage ist {status}; sie kann nicht mehr bearbeitet werden.",
    "History": "Verlauf",
    "New service request": "Neue Serviceanfrage",
    "For a customer who calls: file the request here, then tell them its code.":
        "Für Kunden, die anrufen: Legen Sie die Anfrage hier an und nennen Sie ihnen den Code.",
    "Customer name": "Name des Kunden",
    "Customer email": "E-Mail des Kunden",
    "No group": "Keine Gruppe",
    "File the request": "Anfrage anlegen",
}

_ERRORS = {
    "Bad Request": "Ungültige Anfrage",
    "Unauthorized": "Nicht angemeldet",
    "Forbidden": "Nicht erlaubt",
    "Not Found": "Nicht gefunden",
    "Method Not Allowed": "Nicht möglich",
    "Conflict": "Konflikt",
    "Content Too Large": "Zu groß",
    "Unprocessable Content": "Ungültige Eingabe",
    "Unprocessable Entity": "Ungültige Eingabe",
    "Too Many Requests": "Zu viele Anfragen",
    "Internal Server Error": "Serverfehler",
    "Only an admin of your company can open this page.":
        "Nur ein Administrator Ihres Unternehmens kann diese Seite öffnen.",
    "This form has expired or did not come from this dashboard. Go back, reload the page and try again.":
        "Dieses Formular ist abgelaufen oder stammt nicht aus diesem Dashboard. "
        "Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es noch einmal.",
    "There is no such service request, user, group or module here.":
        "Diese Serviceanfrage, diesen Benutzer, diese Gruppe oder dieses Modul gibt es hier nicht.",
    "This request is {status} and can no longer be changed.":
        "Diese Anfrage ist {status} und kann nicht mehr geändert werden.",
    "This page does not exist.": "Diese Seite gibt es nicht.",
    "This address or form has a value that is not allowed. Go back and use the page's buttons.":
        "Diese Adresse oder dieses Formular enthält einen unzulässigen Wert. "
        "Gehen Sie zurück und nutzen Sie die Schaltflächen der Seite.",
    "This page cannot be used that way; go back and use its buttons.":
        "So lässt sich diese Seite nicht verwenden; gehen Sie zurück und nutzen Sie ihre Schaltflächen.",
    "Something went wrong on the server; it has been logged. Go back and try again.":
        "Auf dem Server ist ein Fehler aufgetreten; er wurde protokolliert. "
        "Gehen Sie zurück und versuchen Sie es noch einmal.",
    "{text} is not a session code; it looks like s12-345-678.":
        "{text} ist kein Sitzungscode; ein Sitzungscode sieht so aus: s12-345-678.",
    "There is no service request {code} in your queue.": "In Ihrer Warteschlange gibt es keine Serviceanfrage {code}.",
}

GERMAN: dict[str, str] = {**_STATUSES, **_HISTORY, **_PAGES, **_ERRORS, **ADMIN, **SESSION}
