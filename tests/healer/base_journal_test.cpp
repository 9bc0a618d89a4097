// The base journal (healer/base_journal.h) and what merge does with it: a
// base template replaced as Qubes replaces one (qvm-clone, then qvm-remove:
// a new name and a new uuid) is followed to the successor the user stated;
// without a statement, the family heuristic, then default_template, with
// prohibit-start and the reason. Nothing is frozen for a missing template.
#include <doctest/doctest.h>

#include "healer/base_journal.h"
#include "healer/heal_common.h"
#include "healer_cli_support.h"

using namespace reliant::healer;
using namespace reliant::healer::testing;

namespace {

const std::string old_uuid = "94b2b8fd-a02f-44a6-b95b-929e9a9a80fd";  // debian-12-xfce in the small fixture
const std::string new_uuid = "b0b0b0b0-1111-4222-8333-444455556666";

// The base as qubesd saves it after `qvm-clone FROM TO`, switching the
// base's qubes to TO, and `qvm-remove FROM`: TO has a new uuid, every
// reference and its volume ids name it.
std::string replaced_qube(const std::string& base, const std::string& from, const std::string& to,
                          const std::string& from_uuid, const std::string& to_uuid) {
    std::string text = replace_all(base, ">" + from + "<", ">" + to + "<");
    text = replace_all(text, "vm-" + from + "-", "vm-" + to + "-");
    return replace_all(text, from_uuid, to_uuid);
}

std::string replaced_text(const std::string& base, const std::string& to = "bookworm-xfce") {
    return replaced_qube(base, "debian-12-xfce", to, old_uuid, new_uuid);
}

// Merge as the boot runs it, following the journal's successors.
MergeResult merge_following(const System& system, const BaseJournal& journal) {
    MergeOptions options = merge_options();
    options.successors = successor_map(journal);
    return merge_all(system, options);
}

void replace_template(System& system) { system.base = parse(replaced_text(serialize(system.base))); }

const Volume* root_volume(const Domain& domain) {
    for (const Volume& volume : *domain.volume_config)
        if (volume.name() && *volume.name() == "root") return &volume;
    return nullptr;
}

const std::vector<std::string> on_debian = {"sys-vpn", "dvm-hidden", "press", "sys-proton"};

// Every hidden qube on the old template is now on `expected`, held for
// review or not.
void check_on_template(const MergeResult& result, const std::string& expected, bool reviewed) {
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    for (const std::string& qube : on_debian) {
        CAPTURE(qube);
        const Domain* domain = result.merged->domain(qube);
        REQUIRE(domain);
        CHECK(domain->value("template") == expected);
        CHECK(bool(domain->feature("prohibit-start")) == reviewed);
        CHECK(*root_volume(*domain)->attributes.get("source") == "qubes_dom0/vm-" + expected + "-root");
    }
    CHECK(loads(*result.merged));
}

BaseJournal journal_of(const Document& base) {
    BaseJournal journal;
    record_changes(journal, base);
    return journal;
}

}  // namespace

TEST_CASE("journal: the first record takes the base's qubes, later ones note removed and created qubes") {
    const System system = small_system();
    BaseJournal journal;
    CHECK(record_changes(journal, system.base).empty());
    CHECK(journal.events.empty());
    REQUIRE_FALSE(journal.qubes.empty());
    CHECK(std::none_of(journal.qubes.begin(), journal.qubes.end(), [](const JournalQube& q) { return q.name == "dom0"; }));

    System replaced = system;
    replace_template(replaced);
    const auto events = record_changes(journal, replaced.base);
    REQUIRE(events.size() == 2);
    CHECK(events[0].event == "removed");
    CHECK(events[0].qube == JournalQube{"debian-12-xfce", old_uuid, "TemplateVM"});
    CHECK(events[1].event == "created");
    CHECK(events[1].qube == JournalQube{"bookworm-xfce", new_uuid, "TemplateVM"});
    CHECK(record_changes(journal, replaced.base).empty());  // nothing new since

    // Written and read back unchanged.
    const auto reread = parse_base_journal(to_json(journal));
    REQUIRE(reread);
    CHECK(to_json(*reread) == to_json(journal));
    CHECK(describe(journal).find("removed TemplateVM debian-12-xfce  (no successor stated") != std::string::npos);
}

TEST_CASE("journal: a successor is stated before or after the old qube is removed") {
    const System system = small_system();
    System replaced = system;
    replace_template(replaced);

    SUBCASE("after: the old uuid comes from the journal's record of the removal") {
        BaseJournal journal = journal_of(system.base);
        REQUIRE(state_successor(journal, replaced.base, "debian-12-xfce", "bookworm-xfce"));
        REQUIRE(journal.successors.size() == 1);
        CHECK(journal.successors[0].of == JournalQube{"debian-12-xfce", old_uuid, "TemplateVM"});
        CHECK(successor_map(journal) == std::map<std::string, std::string>{{old_uuid, new_uuid}});
    }
    SUBCASE("before: both are qubes of the base") {
        // The clone exists beside the old template, which is removed later.
        const Domain* old = system.base.domain("debian-12-xfce");
        REQUIRE(old);
        BaseJournal journal = journal_of(system.base);
        System cloned = system;
        cloned.base.domains.push_back(*old);
        Domain& clone = cloned.base.domains.back();
        clone.set_property("name", std::string("bookworm-xfce"));
        clone.set_property("uuid", new_uuid);
        clone.set_property("qid", std::string("99"));
        REQUIRE(state_successor(journal, cloned.base, "debian-12-xfce", "bookworm-xfce"));
        CHECK(successor_map(journal) == std::map<std::string, std::string>{{old_uuid, new_uuid}});
        // Stating it again for another qube replaces the statement.
        REQUIRE(state_successor(journal, cloned.base, "debian-12-xfce", "fedora-41-xfce"));
        REQUIRE(journal.successors.size() == 1);
        CHECK(journal.successors[0].is.name == "fedora-41-xfce");
        REQUIRE(forget_successor(journal, "debian-12-xfce"));
        CHECK(journal.successors.empty());
        CHECK(forget_successor(journal, "debian-12-xfce").error().code() == ENOENT);
    }
}

TEST_CASE("journal: a statement that cannot hold is refused and changes nothing") {
    const System system = small_system();
    System replaced = system;
    replace_template(replaced);
    BaseJournal journal = journal_of(system.base);
    const auto refused = [&](const std::string& old, const std::string& successor, int code, const char* words) {
        CAPTURE(old);
        CAPTURE(successor);
        const auto before = successor_map(journal);
        const reliant::Status status = state_successor(journal, replaced.base, old, successor);
        REQUIRE_FALSE(status);
        CHECK(status.error().code() == code);
        CHECK_MESSAGE(status.error().describe().find(words) != std::string::npos, status.error().describe());
        CHECK(successor_map(journal) == before);
    };
    refused("debian-12-xfce", "no-such-qube", ENOENT, "is no qube of the base");
    refused("never-there", "bookworm-xfce", ENOENT, "neither a qube of the base nor one the journal saw removed");
    refused("bookworm-xfce", "bookworm-xfce", EINVAL, "its own successor");
    refused("debian-12-xfce", "sys-firewall", EINVAL, "a TemplateVM, 'sys-firewall' a AppVM");

    // A cycle: fedora -> bookworm, then bookworm -> fedora.
    REQUIRE(state_successor(journal, replaced.base, "fedora-41-xfce", "bookworm-xfce"));
    refused("bookworm-xfce", "fedora-41-xfce", EINVAL, "leads back");
}

TEST_CASE("journal: what is not a journal is refused with the reason") {
    const std::string valid = to_json(journal_of(small_system().base));
    for (const std::string& bad : std::vector<std::string>{std::string("{}"), std::string("[]"), std::string("not json"),
                                  replace_all(valid, "reliant-base-journal 1", "reliant-base-journal 9"),
                                  replace_all(valid, "\"uuid\":\"", "\"uuid\":\"x"),
                                  replace_all(valid, "\"class\":", "\"klass\":"),
                                  replace_all(valid, "\"events\": []", "\"events\": [{\"event\":\"renamed\"}]"),
                                  std::string(BaseJournal::max_bytes + 1, ' ')}) {
        CAPTURE(bad.substr(0, 80));
        const auto parsed = parse_base_journal(bad);
        REQUIRE_FALSE(parsed);
        CHECK(parsed.error().describe().find("the base journal") != std::string::npos);
    }
}

TEST_CASE("merge: a replaced base template follows the stated successor, with nothing to review") {
    System system = small_system();
    BaseJournal journal = journal_of(system.base);
    replace_template(system);
    REQUIRE(state_successor(journal, system.base, "debian-12-xfce", "bookworm-xfce"));
    const MergeResult result = merge_following(system, journal);
    check_on_template(result, "bookworm-xfce", false);
    const Change* change = change_for(*outcome_of(result.report, "sflc_0_2"), "press", "template");
    REQUIRE(change);
    CHECK(change->kind == "successor");
    CHECK(change->from == "debian-12-xfce");
    CHECK(change->to == "bookworm-xfce");

    // --fix none follows no statement either.
    MergeOptions none = merge_options();
    none.successors = successor_map(journal);
    none.fixes = FixPolicy{false, false, false};
    CHECK(merge_all(system, none).report.count("frozen") == 2);
}

TEST_CASE("merge: successors are followed through a chain, one that cannot take the role is not") {
    System system = small_system();
    BaseJournal journal = journal_of(system.base);
    replace_template(system);  // debian-12-xfce -> bookworm-xfce
    REQUIRE(state_successor(journal, system.base, "debian-12-xfce", "bookworm-xfce"));
    // A later maintenance boot replaces bookworm-xfce by trixie-xfce.
    system.base = parse(replaced_qube(serialize(system.base), "bookworm-xfce", "trixie-xfce", new_uuid,
                                      "c0c0c0c0-1111-4222-8333-444455556666"));
    REQUIRE(state_successor(journal, system.base, "bookworm-xfce", "trixie-xfce"));
    MergeResult result = merge_following(system, journal);
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    CHECK(result.merged->domain("press")->value("template") == "trixie-xfce");
    CHECK_FALSE(result.merged->domain("press")->feature("prohibit-start"));

    // A successor that is no template (a hand-edited journal) is passed over:
    // the heuristics decide, and say so.
    MergeOptions options = merge_options();
    options.successors = {{old_uuid, uuid_key(*system.base.domain("sys-firewall"))}};
    result = merge_all(system, options);
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "press", "template")->kind == "heuristic");
}

TEST_CASE("merge: without a statement, a template of another family becomes default_template, reviewed") {
    System system = small_system();
    replace_template(system);
    const MergeResult result = merge_all(system);
    check_on_template(result, "fedora-41-xfce", true);  // the base's default_template
    for (const std::string& qube : on_debian) {
        const std::string why = result.merged->domain(qube)->feature("prohibit-start")->value;
        CHECK(why.find("debian-12-xfce is gone") != std::string::npos);
        CHECK(why.find("(the default template)") != std::string::npos);
    }
    CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "press", "template")->note ==
          "prohibit-start set: the default template");
    // The named DispVM on dvm-hidden runs another root now: reviewed too.
    CHECK(result.merged->domain("disp-fieldwork")->feature("prohibit-start"));
}

TEST_CASE("merge: the family comes before default_template") {
    System system = small_system();
    system.base = parse(replaced_text(serialize(system.base), "debian-13-xfce"));
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.merged->domain("press")->value("template") == "debian-13-xfce");
    CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "press", "template")->note ==
          "prohibit-start set: the newest of its family");
}

TEST_CASE("merge: with no default_template either, the shard is frozen with the reason") {
    System system = small_system();
    replace_template(system);
    edit_base(system, "<property name=\"default_template\">fedora-41-xfce</property>", "");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    const ShardOutcome* outcome = outcome_of(result.report, "sflc_0_2");
    CHECK(outcome->status == "frozen");
    REQUIRE_FALSE(outcome->reasons.empty());
    CHECK(outcome->reasons[0].find("refers to template 'debian-12-xfce', which is not there") != std::string::npos);
}

TEST_CASE("reliant-healer journal and merge --base-journal, as maintenance mode and the boot run them") {
    Layout layout;
    const auto journal = layout.dir / "var-lib-reliant" / "base-journal.json";  // its directory made on the first record
    const auto journal_cmd = [&](std::vector<std::string> action) {
        std::vector<std::string> words{"journal", "--base", layout.base.string(), "--journal", journal.string()};
        words.insert(words.end(), action.begin(), action.end());
        return healer_run(words);
    };
    REQUIRE(journal_cmd({"record"}).status == 0);
    REQUIRE(std::filesystem::is_regular_file(journal));
    CHECK((std::filesystem::status(journal).permissions() & std::filesystem::perms::all) ==
          std::filesystem::perms(0644));

    reliant::testing::spit(layout.base, replaced_text(reliant::testing::slurp(layout.base)));
    Run run = journal_cmd({"successor", "debian-12-xfce", "bookworm-xfce"});
    REQUIRE_MESSAGE(run.status == 0, run.err);
    CHECK(run.out.find("bookworm-xfce takes the place of debian-12-xfce") != std::string::npos);
    run = journal_cmd({"show"});
    CHECK(run.out.find("removed TemplateVM debian-12-xfce\ncreated TemplateVM bookworm-xfce\n") != std::string::npos);
    CHECK(run.out.find("successor of debian-12-xfce: bookworm-xfce") != std::string::npos);
    run = journal_cmd({"successor", "debian-12-xfce", "nope"});
    CHECK(run.status == 1);
    CHECK(run.err.find("'nope' is no qube of the base") != std::string::npos);
    CHECK(journal_cmd({"successor", "debian-12-xfce"}).status == 2);

    const auto merged = layout.run / "qubes.xml";
    const auto report = layout.run / "report.json";
    const auto merge_with = [&](const std::string& journal_file) {
        return healer_run({"merge", "--base", layout.base.string(), "--shard-root", layout.shards.string(),
                           "--volume-root", "/run/shufflecake", "--out", merged.string(), "--report",
                           report.string(), "--base-journal", journal_file});
    };
    run = merge_with(journal.string());
    REQUIRE_MESSAGE(run.status == 0, run.err);
    CHECK(run.out.find("2 shard(s) merged, 0 frozen") != std::string::npos);
    CHECK(reliant::testing::slurp(report).find("\"kind\":\"successor\"") != std::string::npos);

    // No journal (no maintenance boot kept one): the heuristics.
    run = merge_with((layout.dir / "none.json").string());
    REQUIRE(run.status == 0);
    CHECK(run.err.empty());
    CHECK(reliant::testing::slurp(report).find("\"kind\":\"successor\"") == std::string::npos);

    // A journal that cannot be used: the merge goes on without it, and says so.
    reliant::testing::spit(layout.dir / "broken.json", "{\"format\": \"something else\"}");
    run = merge_with((layout.dir / "broken.json").string());
    REQUIRE(run.status == 0);
    CHECK(run.err.find("not used, no successors followed") != std::string::npos);
    CHECK(run.out.find("2 shard(s) merged, 0 frozen") != std::string::npos);
    // A link is not followed.
    std::filesystem::create_symlink(journal, layout.dir / "link.json");
    run = merge_with((layout.dir / "link.json").string());
    CHECK(run.err.find("not used") != std::string::npos);
}

TEST_CASE("merge: a replaced netvm follows its stated successor, and without one the qube goes offline, reviewed") {
    // qvm-clone sys-firewall sys-firewall-2 (a new uuid), the base switched
    // to it (default_netvm, updatevm), qvm-remove sys-firewall.
    System system = small_system();
    BaseJournal journal = journal_of(system.base);
    system.base = parse(replaced_qube(serialize(system.base), "sys-firewall", "sys-firewall-2",
                                      "28ce6f24-1064-4d51-86f8-da3eabe19f58", "f1f1f1f1-1111-4222-8333-444455556666"));
    REQUIRE(state_successor(journal, system.base, "sys-firewall", "sys-firewall-2"));
    MergeResult result = merge_following(system, journal);
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    for (const char* qube : {"sys-vpn", "sys-proton"}) {
        CAPTURE(qube);
        CHECK(result.merged->domain(qube)->value("netvm") == "sys-firewall-2");
        CHECK_FALSE(result.merged->domain(qube)->feature("prohibit-start"));
    }
    CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "sys-proton", "netvm")->kind == "successor");
    // intake leaves netvm at its default: default_netvm names the successor now.
    CHECK_FALSE(result.merged->domain("intake")->property("netvm"));
    CHECK_FALSE(result.merged->domain("intake")->feature("prohibit-start"));
    CHECK(change_for(*outcome_of(result.report, "sflc_0_1"), "intake", "netvm")->kind == "successor");
    CHECK(loads(*result.merged));

    // Without the statement: never another netvm, the default's included.
    result = merge_all(system);
    REQUIRE(result.merged);
    REQUIRE(result.merged->domain("intake")->property("netvm"));
    CHECK_FALSE(result.merged->domain("intake")->property("netvm")->value());
    CHECK(result.merged->domain("intake")->feature("prohibit-start"));
    REQUIRE(result.merged->domain("sys-proton")->property("netvm"));
    CHECK_FALSE(result.merged->domain("sys-proton")->property("netvm")->value());  // empty: None
    CHECK(result.merged->domain("sys-proton")->feature("prohibit-start"));
}
