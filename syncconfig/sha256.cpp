#include "syncconfig/sha256.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>

namespace reliant::syncconfig {

struct Sha256::Context {
    EVP_MD_CTX* md = nullptr;
};

namespace {
// A digest that cannot be computed is not an input error: libcrypto only fails
// here when it is out of memory, and no caller could carry on meaningfully.
void must(int ok) {
    if (ok != 1) std::abort();
}
}  // namespace

Sha256::Sha256() : context_(std::make_unique<Context>()) {
    context_->md = EVP_MD_CTX_new();
    if (context_->md == nullptr) std::abort();
    must(EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr));
}

Sha256::~Sha256() {
    if (context_) EVP_MD_CTX_free(context_->md);
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&& other) noexcept {
    if (this != &other) {
        if (context_) EVP_MD_CTX_free(context_->md);
        context_ = std::move(other.context_);
    }
    return *this;
}

void Sha256::update(const void* data, std::size_t size) {
    if (size > 0) must(EVP_DigestUpdate(context_->md, data, size));
}

Digest Sha256::finish() {
    Digest digest{};
    unsigned int size = 0;
    must(EVP_DigestFinal_ex(context_->md, digest.data(), &size));
    if (size != digest.size()) std::abort();
    must(EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr));
    return digest;
}

Digest sha256(std::string_view bytes) {
    Sha256 hasher;
    hasher.update(bytes);
    return hasher.finish();
}

std::string to_hex(const Digest& digest) { return reliant::to_hex(digest.data(), digest.size()); }

bool equal_digests(const Digest& a, const Digest& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace reliant::syncconfig
