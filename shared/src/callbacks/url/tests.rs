use super::*;

fn public() -> StaticResolver {
    StaticResolver(vec!["93.184.215.14".parse().unwrap()])
}

async fn check(url: &str) -> Result<CallbackUrl, UrlProblem> {
    validate_url(url, &public()).await
}

#[tokio::test]
async fn accepts_public_https_urls_and_normalizes_them() {
    let cases = [
        (
            "https://hooks.example.com/esim?x=1",
            "https://hooks.example.com/esim?x=1",
        ),
        ("HTTPS://Hooks.Example.COM", "https://hooks.example.com/"),
        ("https://hooks.example.com:443/a", "https://hooks.example.com/a"),
        ("https://hooks.example.com:8443/a", "https://hooks.example.com:8443/a"),
        ("https://93.184.215.14/cb", "https://93.184.215.14/cb"),
        (
            "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/cb",
            "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/cb",
        ),
        // Forms that embed a public IPv4 address: NAT64 and 6to4 of 93.184.215.14, and mapped.
        ("https://[64:ff9b::5db8:d70e]/cb", "https://[64:ff9b::5db8:d70e]/cb"),
        ("https://[2002:5db8:d70e::1]/cb", "https://[2002:5db8:d70e::1]/cb"),
        ("https://[::ffff:5db8:d70e]/cb", "https://[::ffff:93.184.215.14]/cb"),
        ("https://hooks.example.com./cb", "https://hooks.example.com/cb"),
    ];
    for (given, normalized) in cases {
        assert_eq!(check(given).await.unwrap().as_str(), normalized, "{given}");
    }
}

#[tokio::test]
async fn refuses_what_is_not_a_public_https_url() {
    type Expect = fn(&UrlProblem) -> bool;
    let cases: &[(&str, Expect)] = &[
        ("http://hooks.example.com/", |p| *p == UrlProblem::NotHttps),
        ("ftp://x", |p| *p == UrlProblem::NotHttps),
        ("hooks.example.com", |p| *p == UrlProblem::NotHttps),
        ("https://user:pw@hooks.example.com/", |p| *p == UrlProblem::Credentials),
        ("https://hooks.example.com/#frag", |p| {
            matches!(p, UrlProblem::Malformed(_))
        }),
        ("https://hooks.example.com:0/", |p| {
            matches!(p, UrlProblem::Malformed(_))
        }),
        ("https://hooks.example.com:99999/", |p| {
            matches!(p, UrlProblem::Malformed(_))
        }),
        ("https://hooks example.com/", |p| matches!(p, UrlProblem::Malformed(_))),
        ("https:///path", |p| matches!(p, UrlProblem::Malformed(_))),
        ("https://-bad-.example.com/", |p| matches!(p, UrlProblem::Malformed(_))),
        ("https://127.0.0.1/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://10.1.2.3/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://172.16.0.9/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://192.168.1.1:8443/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://169.254.169.254/latest/meta-data", |p| {
            matches!(p, UrlProblem::NonPublic(_))
        }),
        ("https://100.64.0.1/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://0.0.0.0/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[fd00::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[fe80::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[::ffff:127.0.0.1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[::ffff:10.0.0.1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        // Reserved IPv6 blocks and the forms that embed a non-public IPv4 address.
        ("https://[2002:7f00:1::]/h", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[fec0::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[::ffff:0:7f00:1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[100::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[64:ff9b:1::7f00:1]/", |p| {
            matches!(p, UrlProblem::NonPublic(_))
        }),
        ("https://[64:ff9b::a00:1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[::7f00:1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[::]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[2001::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[2001:2::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[2001:db8::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[3fff::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[5f00::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[ff02::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[100:0:0:1::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://[4000::1]/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://93.184.216.34./", |p| {
            *p == UrlProblem::Malformed("an IPv4 address must not end with a dot")
        }),
        ("https://localhost/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://api.localhost/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://printer.local/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://intranet/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://127.1/", |p| matches!(p, UrlProblem::NonPublic(_))),
        ("https://2130706433/", |p| matches!(p, UrlProblem::NonPublic(_))),
    ];
    for (url, expected) in cases {
        let problem = check(url).await.expect_err(url);
        assert!(expected(&problem), "{url}: {problem:?}");
    }
    let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_LEN));
    assert!(matches!(check(&long).await, Err(UrlProblem::Malformed(_))));
}

#[tokio::test]
async fn a_local_server_may_allow_loopback_and_http_and_nothing_else_private() {
    fn loopback() -> StaticResolver {
        StaticResolver(vec!["127.0.0.1".parse().unwrap()])
    }
    let allowed = |url: &'static str| async move { validate_url_reaching(url, &loopback(), true).await };
    assert_eq!(
        allowed("http://127.0.0.1:9000/hooks").await.unwrap().as_str(),
        "http://127.0.0.1:9000/hooks"
    );
    assert_eq!(allowed("HTTP://localhost").await.unwrap().as_str(), "http://localhost/");
    assert_eq!(
        allowed("https://[::1]:8443/x").await.unwrap().as_str(),
        "https://[::1]:8443/x"
    );
    assert!(matches!(
        allowed("http://10.0.0.1/x").await,
        Err(UrlProblem::NonPublic(_))
    ));
    assert!(matches!(allowed("ftp://127.0.0.1/x").await, Err(UrlProblem::NotHttps)));
    assert!(matches!(
        validate_url("http://127.0.0.1:9000/hooks", &loopback()).await,
        Err(UrlProblem::NotHttps)
    ));
    assert!(matches!(
        validate_url("https://localhost.example/hooks", &loopback()).await,
        Err(UrlProblem::NonPublic(_))
    ));
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_refused() {
    let private = StaticResolver(vec!["93.184.215.14".parse().unwrap(), "10.0.0.5".parse().unwrap()]);
    let problem = validate_url("https://sneaky.example.com/", &private).await.unwrap_err();
    assert!(matches!(problem, UrlProblem::NonPublic(ref host) if host.contains("10.0.0.5")));
    let nothing = StaticResolver(vec![]);
    assert_eq!(
        validate_url("https://gone.example.com/", &nothing).await,
        Err(UrlProblem::Unresolvable("gone.example.com".into()))
    );
}
