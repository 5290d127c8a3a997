// crypt(3) hashes through libcrypt: each supported method accepts the right password and
// refuses a wrong one; plain text and legacy methods are refused outright.

#include <doctest/doctest.h>

#include <string>

#include "auth/password_hash.hpp"

#include "../test_text.hpp"

using namespace cssh::auth;
using test_text::contains;

TEST_CASE("every supported method: right password yes, wrong password no") {
  // Low costs keep the test fast; the verification path is the same at any cost.
  struct method {
    const char* prefix;
    unsigned long cost;
  };
  for (method m : {method{"$y$", 3}, method{"$gy$", 3}, method{"$2b$", 4}, method{"$6$", 1000}, method{"$7$", 0}}) {
    CAPTURE(m.prefix);
    auto hashed = hash_password("correct horse", m.prefix, m.cost);
    REQUIRE(hashed.ok());
    CHECK(hashed->starts_with(m.prefix));
    CHECK(check_hash_format(hashed.value()).ok());
    CHECK(verify_password("correct horse", hashed.value()));
    CHECK_FALSE(verify_password("correct horsf", hashed.value()));
    CHECK_FALSE(verify_password("", hashed.value()));
    CHECK_FALSE(verify_password(std::string("correct horse\0x", 15), hashed.value()));
  }
}

TEST_CASE("known hashes from other tools verify") {
  // openssl passwd -6 -salt abc pw
  const std::string sha512 =
      "$6$abc$MtSdWSZbhct2oe.SOqOUM2M/GA/uj5.vyVtJgRHgKi9uqXuWuJqOYE7H/YlsYGVg/YYzDV0xt3fEIwYt580.5.";
  CHECK(verify_password("pw", sha512));
  CHECK_FALSE(verify_password("pW", sha512));
  // htpasswd -nbB u pw (Apache writes bcrypt as $2y$)
  const std::string bcrypt = "$2y$05$9ElQXOuUeMw6MiVIP3GOjeMYEKQY4l4dxgY55fYEvb6eUSEw.Ww9q";
  CHECK(check_hash_format(bcrypt).ok());
  CHECK(verify_password("pw", bcrypt));
  CHECK_FALSE(verify_password("px", bcrypt));
}

TEST_CASE("plain text and legacy or foreign hashes are refused") {
  for (const char* text : {"secret", "pwq.h9rQXQSU6", "$1$abc$Kb85XxsXB.VXinPhbS4431",
                           "$5$rounds=1000$c7YIDn9FRgAZTvpT$x"}) {
    CAPTURE(text);
    auto r = check_hash_format(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "PASSWORD_HASH_UNSUPPORTED");
    CHECK(contains(r.error().message, "plain text or a legacy hash"));
    CHECK_FALSE(verify_password(text, text));  // a plain-text "hash" never matches itself
  }
  for (const char* text : {"$apr1$UySrDgR0$RJ9fSW2Tmaf.NB7hwBj7x.", "!$6$abc$x", "*", "{SSHA}abc"}) {
    CAPTURE(text);
    auto r = check_hash_format(text);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "is not a crypt(3) hash this system's libcrypt supports"));
  }
  CHECK_FALSE(check_hash_format("").ok());
  CHECK_FALSE(verify_password("", ""));
}
