#include "common/json.h"

#include <cstdint>

namespace reliant {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    std::uint32_t minimum = 0;
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0)
        length = 2, minimum = 0x80;
    else if ((lead & 0xF0) == 0xE0)
        length = 3, minimum = 0x800;
    else if ((lead & 0xF8) == 0xF0)
        length = 4, minimum = 0x10000;
    else
        return 0;
    if (i + length > text.size()) return 0;
    std::uint32_t code = lead & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        code = (code << 6) | (byte(i + k) & 0x3F);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
    return length;
}

}  // namespace

std::string json_quote(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            ++i;
        } else if (c == '\n') {
            out += "\\n", ++i;
        } else if (c == '\t') {
            out += "\\t", ++i;
        } else if (c == '\r') {
            out += "\\r", ++i;
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
            ++i;
        } else if (const std::size_t length = utf8_sequence_length(text, i); length > 0) {
            out.append(text.substr(i, length));
            i += length;
        } else {
            out += "\\ufffd";
            ++i;
        }
    }
    out += '"';
    return out;
}

const JsonValue* JsonValue::member(std::string_view name) const {
    const auto* object = std::get_if<Object>(&value);
    if (!object) return nullptr;
    const auto it = object->find(name);
    return it == object->end() ? nullptr : &it->second;
}

namespace {

template <typename T>
JsonValue make_json(T&& content) {
    JsonValue value;
    value.value = std::forward<T>(content);
    return value;
}

class JsonParser {
public:
    JsonParser(std::string_view text, int max_depth) : text_(text), max_depth_(max_depth) {}

    Result<JsonValue> document() {
        auto value = parse_value(0);
        if (!value) return value;
        skip_space();
        if (pos_ != text_.size()) return fail("trailing characters");
        return value;
    }

private:
    Error fail(const std::string& what) const {
        return Error("invalid JSON at byte " + std::to_string(pos_) + ": " + what, EINVAL);
    }

    void skip_space() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' || text_[pos_] == '\r'))
            ++pos_;
    }

    bool consume(std::string_view literal) {
        if (text_.substr(pos_, literal.size()) != literal) return false;
        pos_ += literal.size();
        return true;
    }

    Result<JsonValue> parse_value(int depth) {
        if (depth > max_depth_) return fail("nested too deeply");
        skip_space();
        if (pos_ == text_.size()) return fail("unexpected end");
        const char c = text_[pos_];
        if (c == '{') return parse_object(depth);
        if (c == '[') return parse_array(depth);
        if (c == '"') {
            auto text = parse_string();
            if (!text) return std::move(text).error();
            return make_json(std::move(*text));
        }
        if (consume("true")) return make_json(true);
        if (consume("false")) return make_json(false);
        if (consume("null")) return make_json(nullptr);
        return parse_number();
    }

    Result<JsonValue> parse_object(int depth) {
        ++pos_;
        JsonValue::Object object;
        skip_space();
        if (consume("}")) return make_json(std::move(object));
        for (;;) {
            skip_space();
            auto key = parse_string();
            if (!key) return std::move(key).error();
            skip_space();
            if (!consume(":")) return fail("expected ':'");
            auto value = parse_value(depth + 1);
            if (!value) return value;
            object.insert_or_assign(std::move(*key), std::move(*value));
            skip_space();
            if (consume("}")) return make_json(std::move(object));
            if (!consume(",")) return fail("expected ',' or '}'");
        }
    }

    Result<JsonValue> parse_array(int depth) {
        ++pos_;
        JsonValue::Array array;
        skip_space();
        if (consume("]")) return make_json(std::move(array));
        for (;;) {
            auto value = parse_value(depth + 1);
            if (!value) return value;
            array.push_back(std::move(*value));
            skip_space();
            if (consume("]")) return make_json(std::move(array));
            if (!consume(",")) return fail("expected ',' or ']'");
        }
    }

    Result<std::string> parse_string() {
        if (!consume("\"")) return fail("expected a string");
        std::string out;
        while (pos_ < text_.size()) {
            const char c = text_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ == text_.size()) break;
            const char escape = text_[pos_++];
            switch (escape) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    if (pos_ + 4 > text_.size()) return fail("short \\u escape");
                    unsigned code = 0;
                    for (int i = 0; i < 4; ++i) {
                        const char h = text_[pos_++];
                        code <<= 4;
                        if (h >= '0' && h <= '9')
                            code |= static_cast<unsigned>(h - '0');
                        else if (h >= 'a' && h <= 'f')
                            code |= static_cast<unsigned>(h - 'a' + 10);
                        else if (h >= 'A' && h <= 'F')
                            code |= static_cast<unsigned>(h - 'A' + 10);
                        else
                            return fail("bad \\u escape");
                    }
                    append_utf8(out, code);
                    break;
                }
                default:
                    return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code >= 0xD800 && code <= 0xDFFF) code = 0xFFFD;  // lone surrogates
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    Result<JsonValue> parse_number() {
        const std::size_t start = pos_;
        while (pos_ < text_.size() &&
               std::string_view("+-0123456789.eE").find(text_[pos_]) != std::string_view::npos)
            ++pos_;
        if (pos_ == start) return fail("unexpected character");
        try {
            std::size_t used = 0;
            const double number = std::stod(std::string(text_.substr(start, pos_ - start)), &used);
            if (used != pos_ - start) return fail("bad number");
            return make_json(number);
        } catch (const std::exception&) {
            return fail("bad number");
        }
    }

    std::string_view text_;
    int max_depth_;
    std::size_t pos_ = 0;
};

}  // namespace

Result<JsonValue> json_parse(std::string_view text, int max_depth) {
    return JsonParser(text, max_depth).document();
}

}  // namespace reliant
