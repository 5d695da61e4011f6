"""German for the admin pages; merged into server.web.locale_de.GERMAN."""

_FORMS = {
    "Fill this in.": "Bitte füllen Sie dieses Feld aus.",
    "Use at most {limit} characters on one line.": "Verwenden Sie höchstens {limit} Zeichen in einer Zeile.",
    "Enter an email address like name@example.com.": "Geben Sie eine E-Mail-Adresse wie name@example.com ein.",
    "Choose one of the offered options.": "Wählen Sie eine der angebotenen Möglichkeiten.",
    "Use at least {count} characters, or leave it empty to have one generated.":
        "Verwenden Sie mindestens {count} Zeichen, oder lassen Sie das Feld leer, um eines erzeugen zu lassen.",
    "Change": "Ändern",
    "Save": "Speichern",
    "Back": "Zurück",
    "Name": "Name",
    "Active": "Aktiv",
}

_USERS = {
    "Role": "Rolle",
    "Admin": "Administrator",
    "Supporter": "Supporter",
    "Account": "Konto",
    "you": "Sie",
    "Deactivate": "Deaktivieren",
    "Deactivated": "Deaktiviert",
    "Reactivate": "Reaktivieren",
    "New password": "Neues Passwort",
    "Empty: generate one": "Leer: Passwort erzeugen",
    "Reset password": "Passwort zurücksetzen",
    "Deactivated users can no longer log in, and their API tokens stop working. "
    "A new password logs the user out everywhere.":
        "Deaktivierte Benutzer können sich nicht mehr anmelden, und ihre API-Tokens funktionieren nicht mehr. "
        "Ein neues Passwort meldet den Benutzer überall ab.",
    "Add a user": "Benutzer hinzufügen",
    "At least 12 characters. Leave it empty to have one generated and shown once.":
        "Mindestens 12 Zeichen. Lassen Sie das Feld leer, wird ein Passwort erzeugt und einmalig angezeigt.",
    "Add the user": "Benutzer hinzufügen",
    "A user with this email already exists.": "Es gibt bereits einen Benutzer mit dieser E-Mail-Adresse.",
    "This would leave your company without an active admin. Make another user admin first.":
        "Dann hätte Ihr Unternehmen keinen aktiven Administrator mehr. "
        "Machen Sie zuerst einen anderen Benutzer zum Administrator.",
    "{email} can log in now": "{email} kann sich jetzt anmelden",
    "Give them this password; it is shown only this once.":
        "Geben Sie der Person dieses Passwort; es wird nur dieses eine Mal angezeigt.",
    "New password for {email}": "Neues Passwort für {email}",
    "Give them this password; it is shown only this once. They have been logged out everywhere.":
        "Geben Sie der Person dieses Passwort; es wird nur dieses eine Mal angezeigt. "
        "Sie wurde überall abgemeldet.",
}

_GROUPS = {
    "A module files its requests into a group; automated assignment picks among the group's members.":
        "Ein Modul legt seine Anfragen in einer Gruppe ab; die automatische Zuweisung wählt unter den "
        "Mitgliedern der Gruppe.",
    "Members": "Mitglieder",
    "Add a member": "Mitglied hinzufügen",
    "No members yet.": "Noch keine Mitglieder.",
    "Remove": "Entfernen",
    "User": "Benutzer",
    "Add": "Hinzufügen",
    "Delete": "Löschen",
    "No groups yet.": "Noch keine Gruppen.",
    "Only groups that no module files into and no request belongs to can be deleted.":
        "Löschen lassen sich nur Gruppen, in die kein Modul Anfragen ablegt und zu denen keine Anfrage gehört.",
    "New group": "Neue Gruppe",
    "Create the group": "Gruppe anlegen",
    "A group with this name already exists.": "Es gibt bereits eine Gruppe mit diesem Namen.",
    "A module files its requests into this group, so it cannot be deleted.":
        "Ein Modul legt seine Anfragen in dieser Gruppe ab; daher lässt sie sich nicht löschen.",
    "Service requests belong to this group, so it stays for their history.":
        "Zu dieser Gruppe gehören Serviceanfragen; sie bleibt für deren Verlauf erhalten.",
}

_MODULES = {
    "Each support module files requests into your queue with its own token. Customers run it from their desktop.":
        "Jedes Supportmodul legt mit seinem eigenen Token Anfragen in Ihrer Warteschlange an. "
        "Ihre Kunden starten es von ihrem Desktop aus.",
    "Downloaded modules reach the queue at {url}.": "Heruntergeladene Module erreichen die Warteschlange unter {url}.",
    "Modules must reach the queue over https:// (plain http:// works only on the server's own computer). "
    "Whoever runs the server sets SOSQUEUE_PUBLIC_URL to its https:// address.":
        "Module müssen die Warteschlange über https:// erreichen (einfaches http:// funktioniert nur auf dem "
        "Rechner des Servers). Wer den Server betreibt, setzt SOSQUEUE_PUBLIC_URL auf dessen https://-Adresse.",
    "This server has no base agents to make downloads from. Whoever runs the server builds them with "
    "\"sosqueue build-base\" and puts them in {folder}.":
        "Dieser Server hat keine Basis-Agenten, aus denen er Downloads erstellen kann. Wer den Server betreibt, "
        "erstellt sie mit „sosqueue build-base“ und legt sie in {folder} ab.",
    "Who gets new requests": "Wer neue Anfragen erhält",
    "Token": "Token",
    "Download": "Download",
    "Whole company": "Ganzes Unternehmen",
    "Revoked": "Gesperrt",
    "Rotate the token to use this module again.": "Erneuern Sie das Token, um dieses Modul wieder zu verwenden.",
    "Rotate the token once to download this module.":
        "Erneuern Sie das Token einmal, um dieses Modul herunterladen zu können.",
    "Rotate token": "Token erneuern",
    "Revoke": "Sperren",
    "No modules yet.": "Noch keine Module.",
    "Rotating a token stops the modules already handed out until they are replaced. "
    "Revoking stops the module until its token is rotated.":
        "Ein neues Token legt die bereits verteilten Module still, bis sie ersetzt sind. "
        "Ein gesperrtes Modul bleibt still, bis sein Token erneuert wird.",
    "New module": "Neues Modul",
    "Create the module": "Modul anlegen",
    "Nobody: everyone in the group sees it": "Niemand: alle in der Gruppe sehen sie",
    "In turn, among the group's available members": "Reihum unter den verfügbaren Mitgliedern der Gruppe",
    "The available member with the fewest open requests": "Das verfügbare Mitglied mit den wenigsten offenen Anfragen",
    "Always {email}": "Immer {email}",
    "Choose who gets the module's new requests from the list.":
        "Wählen Sie aus der Liste, wer die neuen Anfragen des Moduls erhält.",
    "There is no user with this email in your company.":
        "In Ihrem Unternehmen gibt es keinen Benutzer mit dieser E-Mail-Adresse.",
    "Choose one of your company's groups.": "Wählen Sie eine der Gruppen Ihres Unternehmens.",
    "Module {name} is registered": "Das Modul {name} ist angelegt",
    "This is its token, shown only this once. The downloads below carry it already; "
    "you need it only to build a module yourself (sosqueue build).":
        "Dies ist sein Token; es wird nur dieses eine Mal angezeigt. Die Downloads unten enthalten es bereits; "
        "Sie brauchen es nur, wenn Sie ein Modul selbst erstellen (sosqueue build).",
    "New token for {name}": "Neues Token für {name}",
    "The old token stopped working just now. The new one is shown only this once.":
        "Das alte Token funktioniert ab sofort nicht mehr. Das neue wird nur dieses eine Mal angezeigt.",
    "Modules already handed out stop working until they are replaced: download the module again "
    "and hand it out, or rebuild your own with the new token.":
        "Bereits verteilte Module funktionieren erst wieder, wenn sie ersetzt sind: Laden Sie das Modul erneut "
        "herunter und verteilen Sie es, oder erstellen Sie Ihr eigenes mit dem neuen Token neu.",
    "Module id": "Modul-ID",
    "Download the module with this token": "Modul mit diesem Token herunterladen",
    "This server has no base agent for {platform}.": "Dieser Server hat keinen Basis-Agenten für {platform}.",
    "This module is revoked. Rotate its token to use it again, then download it.":
        "Dieses Modul ist gesperrt. Erneuern Sie sein Token, um es wieder zu verwenden, "
        "und laden Sie es dann herunter.",
    "This module's token cannot go into a download. Rotate the token once, then download the module.":
        "Das Token dieses Moduls kann in keinen Download übernommen werden. Erneuern Sie das Token einmal "
        "und laden Sie das Modul dann herunter.",
    "The server's base agent for {platform} cannot be used: {reason}":
        "Der Basis-Agent des Servers für {platform} ist nicht verwendbar: {reason}",
}

_COMPANY = {
    "Hours until an open request expires": "Stunden, bis eine offene Anfrage abläuft",
    "Leave it empty for the server's default of {hours} hours. A change applies to new requests.":
        "Lassen Sie das Feld leer, gilt die Voreinstellung des Servers von {hours} Stunden. "
        "Eine Änderung gilt für neue Anfragen.",
    "Email addresses told about new requests": "E-Mail-Adressen, die über neue Anfragen informiert werden",
    "Separate addresses with commas. Supporters also get an email when a request is assigned to them, "
    "unless they took it themselves.":
        "Trennen Sie Adressen mit Kommas. Supporter erhalten außerdem eine E-Mail, wenn ihnen eine Anfrage "
        "zugewiesen wird, außer sie haben sie selbst übernommen.",
    "Emails are sent through {server}.": "E-Mails werden über {server} versendet.",
    "This server has no mail server set up (SOSQUEUE_SMTP_HOST), so it sends no emails. "
    "Whoever runs the server can set one up.":
        "Für diesen Server ist kein Mailserver eingerichtet (SOSQUEUE_SMTP_HOST), daher versendet er keine "
        "E-Mails. Wer den Server betreibt, kann einen einrichten.",
    "Webhook URL": "Webhook-URL",
    "New and assigned requests are also sent there as signed JSON. Leave it empty to send none.":
        "Neue und zugewiesene Anfragen werden außerdem als signiertes JSON dorthin gesendet. "
        "Lassen Sie das Feld leer, wird nichts gesendet.",
    "Webhook secret": "Webhook-Geheimnis",
    "Each webhook call carries an X-Sosqueue-Signature header made with this secret. "
    "Check it before you trust a call.":
        "Jeder Webhook-Aufruf trägt einen mit diesem Geheimnis erstellten X-Sosqueue-Signature-Header. "
        "Prüfen Sie ihn, bevor Sie einem Aufruf vertrauen.",
    "New secret": "Neues Geheimnis",
    "After a new secret, calls are signed with it at once: update your receiver.":
        "Nach einem neuen Geheimnis werden Aufrufe sofort damit signiert: Passen Sie Ihren Empfänger an.",
    "Enter a number of hours above 0 and at most {limit}, or leave it empty.":
        "Geben Sie eine Stundenzahl über 0 und höchstens {limit} ein, oder lassen Sie das Feld leer.",
    "{address} is not an email address. Separate addresses with commas.":
        "{address} ist keine E-Mail-Adresse. Trennen Sie Adressen mit Kommas.",
    "Enter an address that starts with https:// or http:// (at most {limit} characters), or leave it empty.":
        "Geben Sie eine Adresse ein, die mit https:// oder http:// beginnt (höchstens {limit} Zeichen), "
        "oder lassen Sie das Feld leer.",
}

ADMIN: dict[str, str] = {**_FORMS, **_USERS, **_GROUPS, **_MODULES, **_COMPANY}
