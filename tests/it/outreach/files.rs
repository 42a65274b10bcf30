//! Template files end to end: uploaded over HTTP, checked, kept in the file store,
//! sent as email attachments over SMTP and as WhatsApp media through the Cloud API's
//! upload endpoint, and walled off between tenants.

use super::*;
use app::billing::api::BillingOverview;
use app::outreach::api::RemoveTemplateFile;
use app::outreach::ssr::files::sha256_hex as sha256;

/// A PDF of `n` bytes: the magic, then bytes of every value.
fn pdf(n: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..n.saturating_sub(9)).map(|i| (i * 7 % 256) as u8));
    bytes
}

/// A JPEG of `n` bytes (its start-of-image marker, then filler).
fn jpeg(n: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..n.saturating_sub(4)).map(|i| (i % 251) as u8));
    bytes
}

async fn attach(w: &World, template: Uuid, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    w.app
        .post_raw(
            &w.admin,
            "/outreach/templates/files",
            &[("template_id", &template.to_string()), ("name", name)],
            bytes,
        )
        .await
}

#[tokio::test]
async fn an_email_template_sends_its_attachments_and_refuses_what_it_cannot_send() {
    let w = world().await;
    w.mailbox().await;
    let template = w
        .email_template("Brochure", "Our brochure", "Hi {{first_name}}, attached.")
        .await;
    let brochure = pdf(300 * 1024);
    let (status, file) = attach(
        &w,
        template,
        "C:\\fakepath\\كتيب 2026.PDF",
        brochure.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    assert_eq!(file["file_name"], "كتيب 2026.pdf");
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(file["sha256"], sha256(&brochure));
    // Named a PDF, sent as what it is.
    let photo = jpeg(40 * 1024);
    let (status, shown) = attach(&w, template, "view.pdf", photo.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{shown}");
    assert_eq!(shown["file_name"], "view.jpg");

    // What cannot go: nothing, a page, a file over the limit, files past the total.
    for (body, field) in [
        (Vec::new(), "file"),
        (b"<html><script>alert(1)</script>".to_vec(), "file"),
        (pdf(10 * 1024 * 1024 + 1), "file"),
        (pdf(10 * 1024 * 1024 - 100 * 1024), "file"),
    ] {
        let (status, body) = attach(&w, template, "x.pdf", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let (status, body) = attach(&w, template, "   ", pdf(100)).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    for i in 0..3 {
        let (status, body) = attach(&w, template, &format!("extra-{i}.pdf"), pdf(1000)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = attach(&w, template, "sixth.pdf", pdf(1000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_text(&body).contains("at most 5"), "{body}");
    let detail = w
        .app
        .call_json::<GetTemplate>(&w.admin, &json!({ "id": template }))
        .await
        .1;
    let files = detail["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 5);
    for extra in &files[2..] {
        let (status, body) = w
            .app
            .call::<RemoveTemplateFile>(&w.admin, &[("id", extra["id"].as_str().unwrap())])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // Sent: the two files arrive whole, in order, with their names.
    let seq = w.sequence("Brochure", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(2, false, true).await;
    w.enrol(seq, &leads).await;
    w.schedule().await;
    assert_eq!(w.dispatch().await, 2);
    let emails = w.peer.messages();
    assert_eq!(emails.len(), 2);
    for email in &emails {
        assert!(email.body.starts_with("Hi Mona"), "{}", email.body);
        let got: Vec<_> = email
            .attachments
            .iter()
            .map(|a| {
                (
                    a.name.clone().unwrap_or_default(),
                    a.content_type.clone(),
                    a.size,
                    a.sha256.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "كتيب 2026.pdf".to_string(),
                    "application/pdf".to_string(),
                    brochure.len(),
                    sha256(&brochure)
                ),
                (
                    "view.jpg".to_string(),
                    "image/jpeg".to_string(),
                    photo.len(),
                    sha256(&photo)
                ),
            ]
        );
    }

    // Members download it as an attachment that no browser renders as our page.
    let id = file["id"].as_str().unwrap();
    let res = w
        .app
        .get(&w.admin, &format!("/files/template-files/{id}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%D9%83"),
        "{disposition}"
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), brochure);

    // Another workspace: Ada's ids lead nowhere, whatever it tries.
    let bea = w.other_tenant("bea@example.com", "Beta").await;
    let (status, _) = attach(&bea, template, "mine.pdf", pdf(100)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = bea
        .app
        .get(&bea.admin, &format!("/files/template-files/{id}"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (status, _) = bea
        .app
        .call::<RemoveTemplateFile>(&bea.admin, &[("id", id)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nobody signed in: no upload, no download.
    let stranger = w.app.client();
    let (status, _) = w
        .app
        .post_raw(
            &stranger,
            "/outreach/templates/files",
            &[("template_id", &template.to_string()), ("name", "x.pdf")],
            pdf(100),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A link opened signed out goes to the sign-in page, and back after it.
    let res = w
        .app
        .get(&stranger, &format!("/files/template-files/{id}"))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/login?next=%2Ffiles%2Ftemplate-files%2F")
            || location.starts_with("/login?next=/files/template-files/"),
        "{location}"
    );
    // A rep uses templates but does not change them.
    let rep = w
        .app
        .invite_and_join(&w.admin, "rep@example.com", "SALES")
        .await;
    let (status, _) = w
        .app
        .post_raw(
            &rep,
            "/outreach/templates/files",
            &[("template_id", &template.to_string()), ("name", "x.pdf")],
            pdf(100),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        w.app
            .get(&rep, &format!("/files/template-files/{id}"))
            .await
            .status(),
        StatusCode::OK
    );

    // Removed: gone from the template, the store and the next sends; audited.
    let (status, body) = w
        .app
        .call::<RemoveTemplateFile>(&w.admin, &[("id", id)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let res = w
        .app
        .get(&w.admin, &format!("/files/template-files/{id}"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM audit_logs WHERE tenant_id = '{}' AND action IN ('template.file_added', 'template.file_removed')",
            w.tenant
        ))
        .await,
        // Five added, three removed, then this one.
        9
    );
}

#[tokio::test]
async fn a_whatsapp_header_goes_up_once_per_number_and_every_send_names_it() {
    let w = world().await;
    w.phone("P", "media-1", 100, 1).await;
    let template = w.wa_template("Launch", "Hi {{first_name}}").await;
    // Over Meta's 5 MB for an image.
    let (status, body) = attach(&w, template, "big.jpg", jpeg(5 * 1024 * 1024 + 1)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("file"));
    let photo = jpeg(200 * 1024);
    let (status, file) = attach(&w, template, "Tower A.jpeg", photo.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    // One header per template.
    let (status, body) = attach(&w, template, "second.pdf", pdf(100)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_text(&body).contains("one header file"), "{body}");

    let seq = w.sequence("Launch", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(3, true, false).await;
    w.enrol(seq, &leads).await;
    w.schedule().await;
    assert_eq!(w.dispatch().await, 3);
    let uploads = w.peer.media_uploads();
    assert_eq!(uploads.len(), 1, "one upload for three sends");
    assert_eq!(uploads[0].phone_number_id, "media-1");
    assert_eq!(uploads[0].declared_type, "image/jpeg");
    assert_eq!(uploads[0].file.sha256, sha256(&photo));
    assert_eq!(uploads[0].file.name.as_deref(), Some("Tower A.jpg"));
    let sent = w.peer.messages();
    assert_eq!(sent.len(), 3);
    for m in &sent {
        assert!(
            m.body.starts_with("template:launch:en | Mona"),
            "{}",
            m.body
        );
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].sha256, sha256(&photo));
    }

    // The lead answers: inside the 24-hour window the template goes as an image with
    // its text as the caption, naming the same upload.
    let phone: String = sqlx::query_scalar("SELECT phone_e164 FROM leads WHERE id = $1")
        .bind(leads[0])
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let first = sent.iter().find(|m| m.to == phone).unwrap();
    assert_eq!(
        w.peer
            .whatsapp_reply(&first.id, "Send me more")
            .await
            .unwrap(),
        200
    );
    let (status, body) = w
        .app
        .call::<SendMessage>(
            &w.admin,
            &[
                ("lead_id", &leads[0].to_string()),
                ("channel", "WHATSAPP"),
                ("template_id", &template.to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(w.dispatch().await, 1);
    let captioned = w.peer.messages().pop().unwrap();
    assert_eq!(captioned.body, "Hi Mona");
    assert_eq!(captioned.attachments[0].sha256, sha256(&photo));
    assert_eq!(w.peer.media_uploads().len(), 1);

    // A week on the id is not trusted any more: the next send uploads again.
    sqlx::query("UPDATE wa_media_uploads SET uploaded_at = now() - interval '8 days'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let more = w.leads(1, true, false).await;
    w.enrol(seq, &more).await;
    w.schedule().await;
    assert_eq!(w.dispatch().await, 1);
    assert_eq!(w.peer.media_uploads().len(), 2);
    assert_eq!(
        w.scalar_i64(
            "SELECT count(*) FROM wa_media_uploads WHERE uploaded_at > now() - interval '1 hour'"
        )
        .await,
        1
    );

    // A file gone from the store: the message is refused with the reason, not sent bare.
    let key: String = sqlx::query_scalar("SELECT file_key FROM template_files")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    sqlx::query("DELETE FROM wa_media_uploads")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    w.config.files.delete(&key).await.unwrap();
    let last = w.leads(1, true, false).await;
    w.enrol(seq, &last).await;
    w.schedule().await;
    assert_eq!(w.dispatch().await, 0);
    let error: String = sqlx::query_scalar(
        "SELECT last_error FROM messages WHERE lead_id = $1 AND status = 'FAILED'",
    )
    .bind(last[0])
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert!(error.contains("missing from file storage"), "{error}");
    assert_eq!(w.peer.messages().len(), 5);
}

#[tokio::test]
async fn stored_files_count_against_the_plans_storage() {
    let w = world().await;
    let template = w
        .email_template("Brochure", "Our brochure", "Hi, attached.")
        .await;
    // The workspace's plan stores 1 MiB, so a few small files reach it.
    sqlx::query(
        "UPDATE plans SET storage_limit_mb = 1
          WHERE id = (SELECT plan_id FROM subscriptions WHERE tenant_id = $1)",
    )
    .bind(w.tenant)
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    let storage = |overview: &Value| usage_of(overview, "Storage");

    let (status, first) = attach(&w, template, "a.pdf", pdf(600 * 1024)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, overview) = w.app.call::<BillingOverview>(&w.admin, &[]).await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(storage(&overview)["used"], 600 * 1024);
    assert_eq!(storage(&overview)["limit"], 1024 * 1024);

    // Past the limit: refused with the limit, the usage and the way to lift it.
    let (status, body) = attach(&w, template, "b.pdf", pdf(500 * 1024)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let message = error_text(&body);
    for part in ["1\u{a0}MB", "600\u{a0}KB", "/billing"] {
        assert!(message.contains(part), "{part} in {message}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM template_files")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(stored, 1, "nothing is recorded for the refused file");

    // Past 80 %: the owner hears of it once.
    let (status, body) = attach(&w, template, "c.pdf", pdf(300 * 1024)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let warned: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM notifications WHERE tenant_id = $1 AND kind = 'USAGE_WARNING'",
    )
    .bind(w.tenant)
    .fetch_all(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("File storage"), "{warned:?}");

    // A removed file gives its room back.
    let (status, body) = w
        .app
        .call::<RemoveTemplateFile>(&w.admin, &[("id", first["id"].as_str().unwrap())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = attach(&w, template, "b.pdf", pdf(500 * 1024)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
