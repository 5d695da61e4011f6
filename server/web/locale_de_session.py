"""German for the session view (server/web/templates/session.html); merged into server.web.locale_de.GERMAN."""

SESSION = {
    "Session {code}": "Sitzung {code}",
    "Session with {name}": "Sitzung mit {name}",
    "Session": "Sitzung",
    "Back to the request": "Zurück zur Anfrage",
    "Connecting…": "Verbinde…",
    "The connection was lost. Reconnecting…": "Die Verbindung ist unterbrochen. Verbinde erneut…",
    "Waiting for the customer to connect…": "Warte, bis sich der Kunde verbindet…",
    "Asking the customer to allow you to see their screen…":
        "Der Kunde wird gefragt, ob Sie seinen Bildschirm sehen dürfen…",
    "You see the customer's screen. View only: you cannot control it.":
        "Sie sehen den Bildschirm des Kunden. Nur ansehen: Sie können ihn nicht steuern.",
    "The customer did not allow you to see their screen.": "Der Kunde hat nicht erlaubt, seinen Bildschirm zu sehen.",
    "The customer stopped sharing their screen.": "Der Kunde hat die Bildschirmfreigabe beendet.",
    "The customer is connected and does not share their screen.":
        "Der Kunde ist verbunden und gibt seinen Bildschirm nicht frei.",
    "The customer ended the session.": "Der Kunde hat die Sitzung beendet.",
    "You ended the session.": "Sie haben die Sitzung beendet.",
    "A colleague ended the session.": "Ein Kollege hat die Sitzung beendet.",
    "The request was closed, so the session is over.": "Die Anfrage wurde geschlossen, die Sitzung ist beendet.",
    "The request expired, so the session is over.": "Die Anfrage ist abgelaufen, die Sitzung ist beendet.",
    "This request is closed or expired, so the session is over.":
        "Diese Anfrage ist geschlossen oder abgelaufen, die Sitzung ist beendet.",
    "You are signed out. Sign in again, then open this session again.":
        "Sie sind abgemeldet. Melden Sie sich wieder an und öffnen Sie diese Sitzung erneut.",
    "This session cannot be opened from this page. Reload the page and try again.":
        "Diese Sitzung lässt sich von dieser Seite aus nicht öffnen. Laden Sie die Seite neu und versuchen Sie es "
        "noch einmal.",
    "There is no such service request here.": "Eine solche Anfrage gibt es hier nicht.",
    "Not connected: your message was not sent.": "Nicht verbunden: Ihre Nachricht wurde nicht gesendet.",
    "Ask again": "Erneut fragen",
    "End the session": "Sitzung beenden",
    "The customer's screen appears here once they allow you to see it.":
        "Der Bildschirm des Kunden erscheint hier, sobald er es Ihnen erlaubt.",
    "Chat": "Chat",
    "Write to the customer…": "Schreiben Sie dem Kunden…",
    "Message": "Nachricht",
    "Enter sends; Shift+Enter starts a new line.": "Enter sendet; Umschalt+Enter beginnt eine neue Zeile.",
    "Send": "Senden",
    "This request is {status}, so it has no session any more.":
        "Diese Anfrage ist {status}, sie hat keine Sitzung mehr.",
}
