#include "common/json.h"

#include <gtest/gtest.h>

namespace vytal {
namespace {

TEST(JsonMediaType, AcceptsApplicationJsonWithParametersInAnyCase) {
  EXPECT_TRUE(is_json_media_type("application/json"));
  EXPECT_TRUE(is_json_media_type("Application/JSON"));
  EXPECT_TRUE(is_json_media_type("application/json; charset=utf-8"));
  EXPECT_TRUE(is_json_media_type(" application/json ;charset=UTF-8"));
}

TEST(JsonMediaType, RefusesOtherTypesThatStartTheSame) {
  for (const char* type : {"application/jsonx", "application/json-seq", "application/json+evil", "application/jso",
                           "text/json", "", "application/json x"})
    EXPECT_FALSE(is_json_media_type(type)) << type;
}

}  // namespace
}  // namespace vytal
